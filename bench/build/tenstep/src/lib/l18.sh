lib 18
