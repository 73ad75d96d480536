"""Jobs: every stage runs as a task on a PostgreSQL queue (procrastinate); pipelines chain the stages;
workers share the work; schedules start pipelines."""
