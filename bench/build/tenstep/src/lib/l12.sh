lib 12
