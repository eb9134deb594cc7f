lib 14
