"""``pxehook loaders``: first-stage boot loaders fetched from Debian's packages into the TFTP
root (and an HTTP-boot directory), like ``cobbler mkloaders`` or MAAS's boot resources.

``catalog`` says which package file makes each loader of the arch table work, ``apt``
fetches and unpacks a package (``apt-get download`` + ``dpkg-deb -x``: nothing is
installed, a foreign architecture comes through private apt lists), ``manifest`` records
what pxehook put where, ``install`` plans and applies a run (refusing to overwrite a file
it did not install unless forced).
"""
