"""Small pieces every layer needs: processes by PID (psutil), detached starts recorded by
PID and start time, polling until a deadline, files written whole or not at all, and
failing a test whose service is missing. No chiltepin imports, so anything may use them."""
