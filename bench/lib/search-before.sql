-- search_chunks as it was before BM25 (supabase/migrations/20261121000500_ingest.sql, renamed): the full-text
-- half a websearch_to_tsquery AND of the question's words ranked by ts_rank_cd, fused with the vector half by
-- RRF, one row per chunk. bench/search.ts installs it in its own database only, to time it side by side
-- with today's function on the same corpus and queries.

-- Loads pgvector's library, so that postgres may name its hnsw.* parameters in the SET clauses below.
do $$ begin perform '[0]'::extensions.vector; end $$;

create or replace function public.bench_search_chunks_before(
  query_embedding extensions.vector(512),
  query_text text,
  match_count integer default 10,
  model_name text default 'use-lite-512',
  source_filter bigint default null,
  rrf_k integer default 60
)
returns table (
  chunk_id bigint,
  document_id bigint,
  title text,
  url text,
  source_path text,
  heading_path text[],
  content text,
  similarity double precision,
  text_rank real,
  score double precision
)
language plpgsql
stable
set search_path = public, extensions
-- Filters on model/source would otherwise cut the HNSW candidate list short.
set hnsw.iterative_scan = relaxed_order
-- 200, not the default 40 or 100: at 100k clustered vectors ef_search 100 gave recall@10 0.927 against an
-- exact scan over 200 queries, 200 gave 0.957 (bench/search.ts measures it with the same setting).
set hnsw.ef_search = 200
-- Plan each call with its arguments. A generic plan (what a `language sql` body gets) cannot see that the
-- limit is 4 * match_count or that source_filter is null; at 100k chunks it chose a parallel seq scan of
-- every embedding plus a sort (an exact scan, ~800 ms) over the HNSW index.
set plan_cache_mode = force_custom_plan
as $$
#variable_conflict use_column
begin
  return query
  with vec as (
    select c.id, c.embedding <=> query_embedding as distance
    from chunks c
    join documents d on d.id = c.document_id
    where c.model = model_name and (source_filter is null or d.source_id = source_filter)
    order by c.embedding <=> query_embedding
    limit greatest(match_count, 1) * 4
  ),
  vec_ranked as (
    select id, distance, row_number() over (order by distance) as rank from vec
  ),
  tsq as (
    select websearch_to_tsquery('english', query_text) as q
  ),
  -- The candidate set (see above): the rank is computed only for the rows the limit lets through.
  txt_candidates as (
    (
      select c.id, ts_rank_cd(c.fts, tsq.q) as rank_value
      from chunks c, tsq
      where c.fts @@ tsq.q and c.model = model_name
        and (source_filter is null
          or exists (select from documents d where d.id = c.document_id and d.source_id = source_filter))
      limit 1000
    )
    union
    select c.id, ts_rank_cd(c.fts, tsq.q)
    from vec v
    join chunks c on c.id = v.id, tsq
    where c.fts @@ tsq.q
  ),
  txt as (
    select id, rank_value from txt_candidates
    order by rank_value desc, id
    limit greatest(match_count, 1) * 4
  ),
  txt_ranked as (
    select id, rank_value, row_number() over (order by rank_value desc, id) as rank from txt
  ),
  fused as (
    select coalesce(v.id, t.id) as id,
      1 - v.distance as similarity,
      t.rank_value as text_rank,
      coalesce(1.0 / (rrf_k + v.rank), 0) + coalesce(1.0 / (rrf_k + t.rank), 0) as score
    from vec_ranked v
    full outer join txt_ranked t on t.id = v.id
  )
  select c.id, d.id, d.title, d.url, d.source_path, c.heading_path, c.content,
    f.similarity, f.text_rank, f.score::double precision
  from fused f
  join chunks c on c.id = f.id
  join documents d on d.id = c.document_id
  order by f.score desc, c.id
  limit match_count;
end
$$;
