mkdir -p t; printf 'x\n' > t/.wh.file; printf 'y\n' > t/normal; tar --numeric-owner --owner=0 --group=0 --mtime=@1000000 -C t -cf wh.tar .wh.file normal; rm -rf t
