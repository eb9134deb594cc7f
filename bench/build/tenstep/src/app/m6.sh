echo app 6
