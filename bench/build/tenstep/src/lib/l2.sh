lib 2
