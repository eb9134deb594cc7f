lib 11
