-- Province-scale live accounts (issue 15): room on each page of grades for the next version of
-- its rows. A regrade rewrites every live grade whose values changed, and in a province's steady
-- state that is nearly all of them (some enterprise of every industry changed since the last
-- grading, so every industry L and K moves): about 300,000 rows every accounts.grade_s, all in
-- one transaction. With full pages each new version went to another page and into both
-- indexes (grades_pkey, grades_period); with half of each page free, the new versions of all a
-- page's rows fit beside the old ones and are heap-only (HOT) updates: no index entries, less
-- WAL, and the old versions are pruned in place instead of bloating the table and its indexes.
-- (Measured on 5,000 enterprises, benchmarks/regrade.py, case "industries": 0 of 60,000
-- updates HOT at fillfactor 100, all 60,000 at 50.) Pages written before keep their layout; a
-- live row moves to a page with room at its next non-HOT update, so the table settles by itself.

ALTER TABLE grades SET (fillfactor = 50);
