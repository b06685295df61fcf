-- W0, the floor: the cheapest transaction there is (one round trip, no
-- write). Every other workload is compared to it.
SELECT 1;
