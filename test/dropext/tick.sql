-- time passes: offers expire, wrap-ups end, waiting work is served
SELECT omniroute.tick();
