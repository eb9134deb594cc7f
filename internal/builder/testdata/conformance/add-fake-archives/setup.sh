printf 'not a tar' > fake.tar; printf '\037\213junk' > fake.gz; printf '\375\067zXZ\000junk' > fake.xz; : > empty.tar
