mkdir -p t/top
printf 'one\n' > t/top/one; ln -s one t/top/sl
tar --numeric-owner --owner=1000 --group=1000 --mtime=@1000000 -C t -cf a.tar top
zstd -q -c a.tar > a.tar.zst
cp a.tar.zst zst-no-suffix
rm -rf t a.tar
