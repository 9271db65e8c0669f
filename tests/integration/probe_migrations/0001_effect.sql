-- The trivial effect of the probe service: one row per handled event.
CREATE TABLE effect (
    source    text NOT NULL,
    event_id  text NOT NULL,
    probe_id  text NOT NULL,
    PRIMARY KEY (source, event_id)
);
