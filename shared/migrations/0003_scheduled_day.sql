-- The days this service's scheduler has dealt with (shared/service.py): after downtime every
-- missed day is published, in order, from the day after the latest here. The first start records
-- its day unpublished (published false): commands are published from the next day on, so starting
-- a service never sends a check for a day it was not running.
CREATE TABLE scheduled_day (
    as_of        date        PRIMARY KEY,
    published    boolean     NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now()
);
