"""Tasks run by a real ``django-tasks-db`` worker process (see ``test_real_worker``)."""
