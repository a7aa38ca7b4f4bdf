"""``chiltepin selftest --site SITE``: does this site file work on this machine?"""
