mkdir -p files/d1 files/d2; for f in a.txt b.txt c.txt x.md yy.md; do printf "$f\n" > files/$f; done; printf '1\n' > files/d1/inner; printf '2\n' > files/d2/inner
