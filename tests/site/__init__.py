"""The server-rendered site through Quart's test client: pages, forms, sessions, the admin."""
