-- Runs once, when the postgres volume is first initialised (docker-entrypoint-initdb.d).
-- POSTGRES_DB (tweetbus) is the write database; the consumer's read model (STORE=postgres) gets its
-- own database, as CQRS keeps the two sides apart.
CREATE DATABASE tweetbus_read OWNER tweetbus;
