-- The days this service has published its daily commands for (shared/service.py, the scheduler):
-- after downtime every missed day is published, in order, from the day after the latest here.
CREATE TABLE scheduled_day (
    as_of        date        PRIMARY KEY,
    published_at timestamptz NOT NULL DEFAULT now()
);
