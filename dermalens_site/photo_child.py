"""A photo process's start (``dermalens_site.photo_processes``): lower its priority, load
Django, then answer the worker on the socket it was given.

    python -m dermalens_site.photo_child DESCRIPTOR NICENESS
"""

import os
import sys

import django

if __name__ == "__main__":
    os.nice(int(sys.argv[2]))  # the loading, too, goes after the worker's requests
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dermalens_site.settings")
    django.setup()

    from dermalens_site.photo_processes import serve

    serve(int(sys.argv[1]))
