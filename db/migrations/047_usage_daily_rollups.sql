-- Daily usage rollups per tenant time zone, so a 30-day series reads ~30 rows per meter instead of
-- folding ~720 hourly rollups on every request.
--
-- Definition (the agreement test holds the table to it): the row for (tenant, meter, local_day)
-- aggregates exactly the hourly usage_rollups whose bucket_start falls on local_day in the
-- tenant's time zone — the same fold the API used to compute per request. A local day may be 23,
-- 24 or 25 hours (or 23.5/24.5) long; it is cut by the calendar date, never by a fixed length.
--
-- Maintenance is entirely in the database, so every writer of usage_rollups keeps it right with no
-- code of its own: statement-level triggers on usage_rollups add the indexer's write path (new
-- buckets, ON CONFLICT additions) to their days as deltas and recompute the days of any other
-- change from the hourly rollups (the DELETE + INSERT of its revert path on a reorg: a lowered
-- maximum or a vanished day), and a trigger on tenants rebuilds a tenant's days when its time
-- zone changes.

CREATE TABLE usage_daily_rollups (
  tenant_id bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  meter_id integer NOT NULL,
  -- The calendar date in the tenant's time zone.
  local_day date NOT NULL,
  -- local_day's midnight and the next day's, as instants in that zone (what the API returns as
  -- bucketStart, and how it tells a whole day in a range from a partial one).
  day_start timestamptz NOT NULL,
  day_end timestamptz NOT NULL,
  quantity_sum numeric(38, 0) NOT NULL,
  quantity_max numeric(25, 0) NOT NULL,
  record_count bigint NOT NULL,
  PRIMARY KEY (tenant_id, meter_id, local_day),
  FOREIGN KEY (tenant_id, meter_id) REFERENCES meters (tenant_id, meter_id) ON DELETE CASCADE
);
CREATE INDEX usage_daily_rollups_range ON usage_daily_rollups (tenant_id, meter_id, day_start);

-- Serializes writers of one tenant's daily rows for the rest of the transaction. Under READ
-- COMMITTED each later statement takes a new snapshot, so a recompute sees the other writer's
-- committed hours, and a recompute's plain INSERT never meets a day row another transaction has
-- inserted but not committed. Sorted ids: no lock-order deadlock between two writers. (The
-- indexer is a single writer under its lease; this keeps any other writer correct too.)
CREATE FUNCTION usage_daily_lock(p_tenant bigint[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  t bigint;
BEGIN
  FOR t IN SELECT DISTINCT u FROM unnest(p_tenant) u ORDER BY u LOOP
    PERFORM pg_advisory_xact_lock(4701, (t % 2147483647)::integer);
  END LOOP;
END
$$;

-- Recomputes the given (tenant, meter, local day) keys from usage_rollups, in each tenant's
-- current time zone. SECURITY DEFINER: it runs inside whichever role wrote usage_rollups or
-- tenants (indexer, billing, the API setting a time zone), none of which may write this table.
CREATE FUNCTION usage_daily_recompute(p_tenant bigint[], p_meter integer[], p_day date[]) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  PERFORM usage_daily_lock(p_tenant);

  DELETE FROM usage_daily_rollups d
  USING unnest(p_tenant, p_meter, p_day) AS k(t, m, d)
  WHERE d.tenant_id = k.t AND d.meter_id = k.m AND d.local_day = k.d;

  INSERT INTO usage_daily_rollups (tenant_id, meter_id, local_day, day_start, day_end, quantity_sum, quantity_max, record_count)
  SELECT k.t, k.m, k.d, k.d::timestamp AT TIME ZONE z.time_zone, (k.d + 1)::timestamp AT TIME ZONE z.time_zone,
         sum(r.quantity_sum), max(r.quantity_max), sum(r.record_count)
  FROM (SELECT DISTINCT t, m, d FROM unnest(p_tenant, p_meter, p_day) AS u(t, m, d)) k
  JOIN tenants z ON z.id = k.t
  -- A window around the day (index range on the primary key), then the exact calendar-date test.
  JOIN usage_rollups r ON r.tenant_id = k.t AND r.meter_id = k.m
    AND r.bucket_start >= (k.d::timestamp AT TIME ZONE z.time_zone) - interval '1 day'
    AND r.bucket_start < ((k.d + 1)::timestamp AT TIME ZONE z.time_zone) + interval '1 day'
    AND (r.bucket_start AT TIME ZONE z.time_zone)::date = k.d
  GROUP BY k.t, k.m, k.d, z.time_zone;
END
$$;
REVOKE ALL ON FUNCTION usage_daily_recompute(bigint[], integer[], date[]) FROM PUBLIC;

-- Follows a statement on usage_rollups. The indexer's write path only adds: new hourly buckets
-- (INSERT) and additions to existing ones (ON CONFLICT DO UPDATE: sums and counts grow, the
-- maximum never falls), which are added to their days as deltas, without reading any hour. Any
-- other change (a deletion, a lowered maximum, a moved bucket: the reorg recompute) recomputes the
-- days it touched from the hourly rollups.
CREATE FUNCTION usage_daily_follow_rollups() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  k_t bigint[];
  k_m integer[];
  k_d date[];
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM usage_daily_lock(array_agg(DISTINCT tenant_id)) FROM new_rows;
    INSERT INTO usage_daily_rollups AS d (tenant_id, meter_id, local_day, day_start, day_end, quantity_sum, quantity_max, record_count)
    SELECT n.tenant_id, n.meter_id, l.day, l.day::timestamp AT TIME ZONE z.time_zone, (l.day + 1)::timestamp AT TIME ZONE z.time_zone,
           sum(n.quantity_sum), max(n.quantity_max), sum(n.record_count)
    FROM new_rows n JOIN tenants z ON z.id = n.tenant_id
    CROSS JOIN LATERAL (SELECT (n.bucket_start AT TIME ZONE z.time_zone)::date AS day) l
    GROUP BY n.tenant_id, n.meter_id, l.day, z.time_zone
    ON CONFLICT (tenant_id, meter_id, local_day) DO UPDATE
      SET quantity_sum = d.quantity_sum + EXCLUDED.quantity_sum,
          quantity_max = GREATEST(d.quantity_max, EXCLUDED.quantity_max),
          record_count = d.record_count + EXCLUDED.record_count;
    RETURN NULL;
  END IF;

  IF TG_OP = 'UPDATE' THEN
    PERFORM usage_daily_lock(array_agg(DISTINCT tenant_id)) FROM (SELECT tenant_id FROM new_rows UNION SELECT tenant_id FROM old_rows) s;
    -- Old and new versions are paired by grouping on the bucket key (subquery c), not
    -- by a join: transition tables have no statistics or indexes, and a join planned as a nested
    -- loop is quadratic in the rows (minutes for a 46k-bucket statement).
    -- Additions: same bucket, maximum not lowered. The day row exists (its hour did).
    INSERT INTO usage_daily_rollups AS d (tenant_id, meter_id, local_day, day_start, day_end, quantity_sum, quantity_max, record_count)
    SELECT c.tenant_id, c.meter_id, l.day, l.day::timestamp AT TIME ZONE z.time_zone, (l.day + 1)::timestamp AT TIME ZONE z.time_zone,
           sum(c.d_sum), max(c.new_max), sum(c.d_count)
    FROM (SELECT tenant_id, meter_id, bucket_start, sum(s) AS d_sum, sum(n) AS d_count, max(nx) AS new_max, max(ox) AS old_max,
                 bool_or(is_new) AS has_new, bool_or(NOT is_new) AS has_old
          FROM (SELECT tenant_id, meter_id, bucket_start, quantity_sum AS s, record_count AS n, quantity_max AS nx, NULL::numeric AS ox, true AS is_new FROM new_rows
                UNION ALL
                SELECT tenant_id, meter_id, bucket_start, -quantity_sum, -record_count, NULL, quantity_max, false FROM old_rows) u
          GROUP BY tenant_id, meter_id, bucket_start) c
    JOIN tenants z ON z.id = c.tenant_id
    CROSS JOIN LATERAL (SELECT (c.bucket_start AT TIME ZONE z.time_zone)::date AS day) l
    WHERE c.has_new AND c.has_old AND c.new_max >= c.old_max
    GROUP BY c.tenant_id, c.meter_id, l.day, z.time_zone
    ON CONFLICT (tenant_id, meter_id, local_day) DO UPDATE
      SET quantity_sum = d.quantity_sum + EXCLUDED.quantity_sum,
          quantity_max = GREATEST(d.quantity_max, EXCLUDED.quantity_max),
          record_count = d.record_count + EXCLUDED.record_count;
    -- Everything else (a lowered maximum, a bucket moved): its days, recomputed.
    SELECT array_agg(t), array_agg(m), array_agg(d) INTO k_t, k_m, k_d FROM (
      SELECT DISTINCT c.tenant_id AS t, c.meter_id AS m, (c.bucket_start AT TIME ZONE z.time_zone)::date AS d
      FROM (SELECT tenant_id, meter_id, bucket_start, max(nx) AS new_max, max(ox) AS old_max, bool_or(is_new) AS has_new, bool_or(NOT is_new) AS has_old
            FROM (SELECT tenant_id, meter_id, bucket_start, quantity_max AS nx, NULL::numeric AS ox, true AS is_new FROM new_rows
                  UNION ALL
                  SELECT tenant_id, meter_id, bucket_start, NULL, quantity_max, false FROM old_rows) u
            GROUP BY tenant_id, meter_id, bucket_start) c
      JOIN tenants z ON z.id = c.tenant_id
      WHERE NOT (c.has_new AND c.has_old AND c.new_max >= c.old_max)) s;
  ELSE
    SELECT array_agg(t), array_agg(m), array_agg(d) INTO k_t, k_m, k_d FROM (
      SELECT DISTINCT o.tenant_id AS t, o.meter_id AS m, (o.bucket_start AT TIME ZONE z.time_zone)::date AS d
      FROM old_rows o JOIN tenants z ON z.id = o.tenant_id) s;
  END IF;
  IF k_t IS NOT NULL THEN
    PERFORM usage_daily_recompute(k_t, k_m, k_d);
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER usage_daily_after_insert AFTER INSERT ON usage_rollups
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION usage_daily_follow_rollups();
CREATE TRIGGER usage_daily_after_update AFTER UPDATE ON usage_rollups
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION usage_daily_follow_rollups();
CREATE TRIGGER usage_daily_after_delete AFTER DELETE ON usage_rollups
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION usage_daily_follow_rollups();

-- A tenant's days are cut in its time zone: a new zone rebuilds all of them, in the same
-- transaction as the change, so no reader ever sees days of one zone labelled with another.
CREATE FUNCTION usage_daily_rebuild_tenant(p_tenant bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  PERFORM usage_daily_lock(ARRAY[p_tenant]);
  DELETE FROM usage_daily_rollups WHERE tenant_id = p_tenant;
  INSERT INTO usage_daily_rollups (tenant_id, meter_id, local_day, day_start, day_end, quantity_sum, quantity_max, record_count)
  SELECT r.tenant_id, r.meter_id, (r.bucket_start AT TIME ZONE z.time_zone)::date,
         ((r.bucket_start AT TIME ZONE z.time_zone)::date)::timestamp AT TIME ZONE z.time_zone,
         ((r.bucket_start AT TIME ZONE z.time_zone)::date + 1)::timestamp AT TIME ZONE z.time_zone,
         sum(r.quantity_sum), max(r.quantity_max), sum(r.record_count)
  FROM usage_rollups r JOIN tenants z ON z.id = r.tenant_id
  WHERE r.tenant_id = p_tenant
  GROUP BY r.tenant_id, r.meter_id, 3, 4, 5;
END
$$;
REVOKE ALL ON FUNCTION usage_daily_rebuild_tenant(bigint) FROM PUBLIC;

CREATE FUNCTION usage_daily_follow_time_zone() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  PERFORM usage_daily_rebuild_tenant(NEW.id);
  RETURN NULL;
END
$$;
CREATE TRIGGER usage_daily_time_zone AFTER UPDATE OF time_zone ON tenants
  FOR EACH ROW WHEN (OLD.time_zone IS DISTINCT FROM NEW.time_zone) EXECUTE FUNCTION usage_daily_follow_time_zone();

-- Existing data.
SELECT usage_daily_rebuild_tenant(id) FROM tenants;

SELECT meterline_apply_tenant_rls();
GRANT SELECT ON usage_daily_rollups TO meterline_api, meterline_billing;
