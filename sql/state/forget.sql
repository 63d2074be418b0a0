-- A full refresh: the state forgets every file, so that the run reads the whole archive again.
delete from landing_accepted;
delete from landing_template_sends;
delete from landing_statuses;
delete from landing_replies;
delete from landing_errors;
delete from quarantine;
delete from unclassified;
delete from manifest;
delete from settings;
