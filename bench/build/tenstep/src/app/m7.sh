echo app 7
