-- The steps of one workflow with their state and timing (replace the id).
select * from public.workflow_steps('import/00000000-0000-0000-0000-000000000000');
