-- Template learning never eats news: a block counts toward its host's template only on pages
-- that carried it from their first recorded version (`born`). A sentence stamped on several
-- existing documents of a site at once (an amendment or repeal notice) arrives with born = 0
-- on each and stays a change; a site's footer or standard note is on every page it publishes
-- from the start, and on the pages published after it. Rows recorded before this migration
-- were learnt under the old rule and keep counting (born = 1).
ALTER TABLE template_blocks ADD COLUMN born INTEGER NOT NULL DEFAULT 1;
