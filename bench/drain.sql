-- drain: the next agent comes online and takes waiting work
SELECT omniroute.set_presence(nextval('bench.next_agent'), 'available');
