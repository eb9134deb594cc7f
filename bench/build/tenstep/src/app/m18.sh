echo app 18
