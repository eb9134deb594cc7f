mkdir -p t/etc/extra; printf 'x\n' > t/etc/extra/f; printf 'h\n' > t/etc/hostname; tar --numeric-owner --owner=0 --group=0 --mtime=@1000000 -C t -cf etc.tar etc; rm -rf t
