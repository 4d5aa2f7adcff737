-- How far the aggregator has taken each register and power series into the rollups (analytics/,
-- docs/analytics.md "Streaming"): the rollups of a series are exactly the booking of its readings
-- with time <= frontier. Readings after it are new: appended in order, their intervals are added
-- to the existing buckets; a reading at or before it is late, and recomputes its window.
-- No row: everything stored counts as taken in (the rollups were recomputed from all readings).

CREATE TABLE rollup_frontiers (
    meter_id    text NOT NULL,
    quantity    text NOT NULL REFERENCES rollup_quantities (quantity),
    time        timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (meter_id, quantity)
);
COMMENT ON TABLE rollup_frontiers IS
    'Per series: rollups are the booking of exactly the readings with time <= this (docs/analytics.md)';
