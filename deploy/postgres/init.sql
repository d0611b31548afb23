-- Creates fedsaga's three databases on the `postgres` service of
-- docker-compose.yml. The postgres image runs this file once, as the
-- superuser POSTGRES_USER (fedsaga), when it initialises an empty data
-- directory; to run it again, remove the volume
-- (`docker compose down -v`). It is also safe to run by hand:
--
--   psql -U fedsaga -d postgres -f deploy/postgres/init.sql
--
-- Each CREATE DATABASE runs only when the database is missing (CREATE
-- DATABASE has no IF NOT EXISTS and cannot run inside a DO block, hence
-- \gexec). The schemas are not created here: `fedsaga migrate` applies them.

SELECT 'CREATE DATABASE fedsaga_orders OWNER fedsaga'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'fedsaga_orders')\gexec

SELECT 'CREATE DATABASE fedsaga_inventory OWNER fedsaga'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'fedsaga_inventory')\gexec

SELECT 'CREATE DATABASE fedsaga_payments OWNER fedsaga'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'fedsaga_payments')\gexec
