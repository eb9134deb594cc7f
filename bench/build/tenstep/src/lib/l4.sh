lib 4
