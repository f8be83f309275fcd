-- Not-routable answers (loopback, private, link-local, reserved) are
-- computed from the address whenever asked and no longer stored: a reader
-- looking up private addresses cannot grow the cache or this table.
DELETE FROM geo_cache WHERE source = 'local';
