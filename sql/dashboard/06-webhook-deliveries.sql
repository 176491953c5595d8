-- What the database triggers' HTTP requests to the Edge Functions returned in the last hour.
select id, status_code, timed_out, error_msg, left(content, 200) as body, created
  from net._http_response
 where created > now() - interval '1 hour'
 order by created desc
 limit 50;
