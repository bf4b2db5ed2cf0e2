-- The indexer's bulk path: COPY straight into usage_records (issue #14).
--
-- usage_records has FORCE ROW LEVEL SECURITY, and PostgreSQL refuses COPY FROM into a table whose
-- row-level security applies to the current role. meterline_indexer is NOBYPASSRLS, so without
-- this role every record is written twice: COPY into a staging table, then INSERT … SELECT.
--
-- meterline_usage_loader is the narrowest role that can take the COPY: it may INSERT into
-- usage_records and nothing else (no SELECT, no UPDATE or DELETE, no other table, no login), and
-- it bypasses row-level security, which for an insert only skips the WITH CHECK of the services'
-- policy on usage_records, `true` for the indexer anyway (035). BYPASSRLS is a role attribute and
-- is never inherited: the indexer holds it only between `SET LOCAL ROLE meterline_usage_loader` and
-- switching back, around the one COPY statement (indexer/store/usage-records.ts).
--
-- Only a superuser may create a role with BYPASSRLS. Where migrations run as a non-superuser (a
-- managed database's admin user), this migration changes nothing and says so; the indexer then
-- finds no loader role and keeps the staging path, correct and about a third slower. A DBA can
-- run the statements below by hand at any time; the indexer checks at every start.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'meterline_usage_loader') THEN
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
      RAISE NOTICE 'meterline_usage_loader not created: only a superuser may create a BYPASSRLS role; the indexer keeps its staging path (docs/deploy.md, "The indexer''s bulk path")';
      RETURN;
    END IF;
    -- Roles are cluster-wide: another database of the same cluster may create it concurrently.
    BEGIN
      CREATE ROLE meterline_usage_loader NOLOGIN NOSUPERUSER BYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
    END;
  END IF;
  IF NOT pg_has_role('meterline_indexer', 'meterline_usage_loader', 'MEMBER') THEN
    BEGIN
      GRANT meterline_usage_loader TO meterline_indexer;
    EXCEPTION
      WHEN insufficient_privilege THEN
        RAISE NOTICE 'meterline_usage_loader exists but could not be granted to meterline_indexer; the indexer keeps its staging path';
      WHEN OTHERS THEN
        -- A concurrent grant by another database's migration ("tuple concurrently updated").
        IF NOT pg_has_role('meterline_indexer', 'meterline_usage_loader', 'MEMBER') THEN RAISE; END IF;
    END;
  END IF;
  GRANT USAGE ON SCHEMA public TO meterline_usage_loader;
  GRANT INSERT ON usage_records TO meterline_usage_loader;
END
$$;
