"""Small pieces every layer needs: processes by PID (psutil), polling until a deadline,
and whether this is a CI run. No chiltepin imports, so anything may use them."""
