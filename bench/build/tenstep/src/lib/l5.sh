lib 5
