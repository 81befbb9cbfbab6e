"""What every web page shares: the navigation rule (navigation.py), the page-permission helper
(permissions.py) and the context processor that gives each template its navigation."""
