-- A full refresh: the state forgets every file, so that the run reads the whole archive again
-- (the landing parts no longer listed are removed after the commit).
delete from landing_parts;
delete from quarantine;
delete from unclassified;
delete from manifest;
delete from settings;
