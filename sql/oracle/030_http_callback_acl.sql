-- Only for the HTTP callback option (031_http_callback.sql); the relay needs none of this.
-- Run as a DBA (SYS or a user with the DBA role), in the PDB that holds the schema.
--
-- Substitution variables (SQL*Plus and SQLcl ask for each, or take them from DEFINE):
--   tweetbus_owner   the schema owner, who owns the callback package and its jobs
--   publisher_host   host name or IP address of the publisher, as in its URL
--   publisher_port   the publisher's port (3001 unless PUBLISHER_PORT says otherwise)
--
-- Idempotent: APPEND_HOST_ACE adds nothing when the same entry is there already, and GRANT can be
-- repeated.

WHENEVER SQLERROR EXIT SQL.SQLCODE

-- Lets the owner's code (not anyone else's) connect to the publisher's host and port over HTTP.
BEGIN
  DBMS_NETWORK_ACL_ADMIN.APPEND_HOST_ACE(
    host       => '&&publisher_host',
    lower_port => &&publisher_port,
    upper_port => &&publisher_port,
    ace        => xs$ace_type(
                    privilege_list => xs$name_list('http'),
                    principal_name => UPPER('&&tweetbus_owner'),
                    principal_type => xs_acl.ptype_db));
END;
/

-- UTL_HTTP is often granted to PUBLIC, but hardened databases revoke that; a definer's-rights
-- package needs the grant directly, not through a role.
GRANT EXECUTE ON SYS.UTL_HTTP TO &&tweetbus_owner;

-- The repeating DBMS_SCHEDULER job, and the one-off DBMS_JOB runs submitted at commit.
GRANT CREATE JOB TO &&tweetbus_owner;
