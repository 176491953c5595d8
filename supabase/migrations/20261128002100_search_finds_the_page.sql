-- Search that finds the page (docs/ingest.md, "Search"): BM25 over the question's words instead of a
-- full-text AND that almost never matched a question, one result per page, text-only indexing without
-- vectors, and progress on the run row while the index pass works.

-- Text-only indexing (INGEST_EMBEDDINGS=none) stores chunks without vectors. pgvector's HNSW index skips
-- null vectors, so it is unaffected.
alter table public.chunks alter column embedding drop not null;

-- Number of tokens (lexeme positions) in the chunk's fts vector: BM25's document length. The same
-- expression as `fts`, counted, because a generated column cannot read another one.
create or replace function public.ingest_fts_length(heading_path text[], content text)
returns integer
language sql
immutable
parallel safe
as $$
  select coalesce(sum(cardinality(u.positions)), 0)::integer
    from unnest(to_tsvector('english', public.ingest_heading_text(heading_path)) ||
                to_tsvector('english', content)) u
$$;

alter table public.chunks
  add column if not exists fts_length integer
  generated always as (public.ingest_fts_length(heading_path, content)) stored;

-- BM25's collection statistics: in how many chunks each lexeme occurs, and the chunk count and average
-- length. Refreshed once per index pass (public.refresh_search_stats); between passes a lexeme the
-- statistics do not know counts as occurring nowhere (the highest IDF), which only new text can produce.
-- One set for all chunks, not one per embedding model: every document holds the chunks of one model
-- only, so the text collection is the same whatever model embedded it.
create table if not exists public.search_lexemes (
  lexeme text primary key,
  chunks integer not null
);

create table if not exists public.search_corpus (
  id boolean primary key default true check (id),
  chunks bigint not null,
  avg_length double precision not null,
  refreshed_at timestamptz not null default now()
);

alter table public.search_lexemes enable row level security;
alter table public.search_corpus enable row level security;

create or replace function public.refresh_search_stats()
returns void
language plpgsql
set search_path = public
as $$
begin
  -- Two passes finishing together would both delete and insert the same lexemes.
  perform pg_advisory_xact_lock(hashtext('public.refresh_search_stats'));
  -- delete, not truncate: searches keep reading the previous statistics until this commits.
  delete from search_lexemes;
  -- One pass over the chunks: nentry (occurrences of a lexeme) summed is the collection's length.
  with stat as (
    select word, ndoc, nentry from ts_stat('select fts from public.chunks')
  ),
  saved as (
    insert into search_lexemes (lexeme, chunks) select word, ndoc from stat
  )
  insert into search_corpus (id, chunks, avg_length, refreshed_at)
    select true, n.chunks, coalesce((select sum(nentry) from stat)::double precision / nullif(n.chunks, 0), 0), now()
    from (select count(*) as chunks from chunks) n
  on conflict (id) do update set
    chunks = excluded.chunks, avg_length = excluded.avg_length, refreshed_at = excluded.refreshed_at;
end
$$;

revoke all on function public.refresh_search_stats() from public, anon, authenticated;

-- An OR of lexemes as a tsquery. Lexemes are quoted (quotes and backslashes doubled) so that one
-- holding tsquery syntax stays a lexeme; the cast does not normalise them again.
create or replace function public.ingest_any_lexeme(lexemes text[])
returns tsquery
language sql
immutable
parallel safe
as $$
  -- Null without lexemes: an empty tsquery would make every use of it raise a notice.
  select string_agg('''' || replace(replace(l, '\', '\\'), '''', '''''') || '''', ' | ')::tsquery
  from unnest(lexemes) l
$$;

-- search_chunks sets pgvector's hnsw.* parameters. A non-superuser may name them in a function's SET
-- only once the extension's library has defined them in this session (otherwise they are placeholders,
-- which postgres may not set); reading a vector loads it.
do $$ begin perform '[0]'::extensions.vector; end $$;

drop function if exists public.search_chunks(extensions.vector, text, integer, text, bigint, integer);

-- One result per page. The chunk lists of both halves are fused by reciprocal rank fusion
-- (1 / (rrf_k + rank), summed), then each page keeps its best chunk: fusing before collapsing lets a
-- page whose best vector chunk and best text chunk are one chunk win, which collapsing first loses.
--
-- Vector half: the 4 * match_count nearest chunks of `model_name` by cosine distance (HNSW). Skipped
-- when query_embedding is null: text-only search.
--
-- Text half: BM25 (k1 1.2, b 0.75) over an OR of the question's lexemes, so a chunk need not contain
-- every word of a question. At most 32 lexemes, the rarest. Bounded: candidates come from the GIN index
-- for the rarest lexemes while their chunk counts add up to at most 1000 (always at least the rarest
-- one), at most 1000 chunks, plus the vector candidates; every candidate is scored on every query
-- lexeme. A chunk that holds only common words of the question is not a candidate; its BM25 score is
-- low by construction (common words have a low IDF). When even the rarest lexeme is in more than 1000
-- chunks, the 1000 are a sample in physical order, as before (docs/ingest.md).
create or replace function public.search_chunks(
  query_embedding extensions.vector(512),
  query_text text,
  match_count integer default 10,
  model_name text default null,
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
  snippet text,
  similarity double precision,
  bm25 double precision,
  score double precision
)
language plpgsql
stable
set search_path = public, extensions
-- Filters on model/source would otherwise cut the HNSW candidate list short.
set hnsw.iterative_scan = relaxed_order
-- recall@10 0.957 at 100k chunks (0.927 at 100); bench/search.ts measures it with the same setting.
set hnsw.ef_search = 200
-- Plan each call with its arguments: a generic plan cannot see the limits or the absent filters and
-- scanned every embedding exactly (docs/ingest.md).
set plan_cache_mode = force_custom_plan
as $$
#variable_conflict use_column
declare
  k1 constant double precision := 1.2;
  b constant double precision := 0.75;
  candidate_cap constant integer := 1000;
  n_chunks double precision;
  avg_len double precision;
  lexemes text[];
  idfs double precision[];
  candidate_query tsquery;
  any_query tsquery;
  per_list integer := greatest(match_count, 1) * 4;
begin
  select s.chunks, s.avg_length into n_chunks, avg_len from search_corpus s;
  n_chunks := greatest(coalesce(n_chunks, 0), 1);
  avg_len := greatest(coalesce(avg_len, 0), 1);

  select array_agg(q.lexeme order by q.df, q.lexeme),
         array_agg(ln(1 + (n_chunks - q.df + 0.5) / (q.df + 0.5)) order by q.df, q.lexeme),
         public.ingest_any_lexeme(array_agg(q.lexeme) filter (where q.cum <= candidate_cap or q.n = 1))
    into lexemes, idfs, candidate_query
  from (
    select l.lexeme, l.df,
           sum(l.df) over (order by l.df, l.lexeme) as cum,
           row_number() over (order by l.df, l.lexeme) as n
    from (
      select t.lexeme, least(coalesce(s.chunks, 0), n_chunks) as df
      from unnest(tsvector_to_array(to_tsvector('english', query_text))) t(lexeme)
      left join search_lexemes s on s.lexeme = t.lexeme
      order by 2, 1
      limit 32
    ) l
  ) q;
  any_query := public.ingest_any_lexeme(lexemes);

  return query
  with vec as (
    select c.id, c.embedding <=> query_embedding as distance
    from chunks c
    join documents d on d.id = c.document_id
    where query_embedding is not null
      and c.model = model_name and (source_filter is null or d.source_id = source_filter)
    order by c.embedding <=> query_embedding
    limit per_list
  ),
  vec_ranked as (
    select id, distance, row_number() over (order by distance, id) as rank from vec
  ),
  q as (
    select * from unnest(lexemes, idfs) as q(lexeme, idf)
  ),
  candidates as (
    (
      select c.id
      from chunks c
      where lexemes is not null and c.fts @@ candidate_query
        and (source_filter is null
          or exists (select from documents d where d.id = c.document_id and d.source_id = source_filter))
      limit candidate_cap
    )
    union
    select id from vec
  ),
  scored as (
    select c.id,
      sum(q.idf * u.tf * (k1 + 1) / (u.tf + k1 * (1 - b + b * c.fts_length / avg_len))) as bm25
    from candidates t
    join chunks c on c.id = t.id
    cross join lateral (select x.lexeme, cardinality(x.positions) as tf from unnest(c.fts) x) u
    join q on q.lexeme = u.lexeme
    group by c.id
  ),
  txt_ranked as (
    select id, bm25, row_number() over (order by bm25 desc, id) as rank
    from scored
    order by bm25 desc, id
    limit per_list
  ),
  fused as (
    select coalesce(v.id, t.id) as id,
      1 - v.distance as similarity,
      t.bm25,
      -- Text-only search orders by BM25 itself; hybrid by the fused rank.
      case when query_embedding is null then t.bm25
           else coalesce(1.0 / (rrf_k + v.rank), 0) + coalesce(1.0 / (rrf_k + t.rank), 0) end as score
    from vec_ranked v
    full outer join txt_ranked t on t.id = v.id
  ),
  best_per_page as (
    select distinct on (c.document_id) f.id, c.document_id, f.similarity, f.bm25, f.score
    from fused f
    join chunks c on c.id = f.id
    order by c.document_id, f.score desc, f.id
  ),
  top as (
    select * from best_per_page order by score desc, id limit match_count
  )
  select c.id, d.id, d.title, d.url, d.source_path, c.heading_path, c.content,
    -- `**` marks the question's words: markdown, like the text, and never markup a page could inject.
    -- A question without a single searchable word (only stop words) has no words to mark.
    coalesce(ts_headline('english', c.content, any_query,
      'StartSel=**, StopSel=**, MaxWords=30, MinWords=12, MaxFragments=2, FragmentDelimiter=" … "'),
      left(c.content, 200)),
    p.similarity, p.bm25, p.score::double precision
  from top p
  join chunks c on c.id = p.id
  join documents d on d.id = c.document_id
  order by p.score desc, p.id;
end
$$;

revoke all on function public.search_chunks(extensions.vector, text, integer, text, bigint, integer) from public, anon, authenticated;

-- Progress of the index pass on the run row, so the dashboard and `npm run status` show it moving:
-- chunks_total is known once the pass has chunked what changed, chunks_done grows with each window it
-- commits. documents_truncated counts pages indexed only up to INGEST_MAX_CHUNKS_PER_PAGE chunks.
alter table public.ingest_runs
  add column if not exists chunks_total integer,
  add column if not exists chunks_done integer not null default 0,
  add column if not exists documents_truncated integer not null default 0;

-- workflow_runs as 20261128001102_exact_workflow_ids.sql defines it, with the index pass's progress as
-- an ingest run's done / total.
create or replace view public.workflow_runs
with (security_invoker = true)
as
with runs as (
  select 'import'::text as kind, j.id::text as row_id, 'import/' || j.id as base_id, j.status,
         j.batches_done as done, j.batches_total as total, 'batches'::text as unit,
         j.created_at, j.started_at, j.finished_at, j.error as last_error
    from public.import_jobs j
  union all
  select 'images', r.id::text, 'images/' || r.id, r.status,
         r.images_succeeded + r.images_failed, coalesce(r.images_total, cardinality(r.styles)), 'images',
         r.created_at, r.started_at, r.finished_at, r.error
    from public.image_requests r
  union all
  -- Chunks once the index pass has counted them; before that, the workflow's steps.
  select 'ingest', i.id, 'ingest/' || i.id, i.status,
         case when i.chunks_total is not null then i.chunks_done end, i.chunks_total, 'chunks',
         i.created_at, i.started_at, i.finished_at, i.error
    from public.ingest_runs i
)
select
  coalesce(p.id, runs.base_id) as workflow_id,
  runs.kind,
  runs.row_id,
  case when p.state = 'rejected_canceled' then 'canceled' else runs.status end as status,
  p.state as durable_state,
  coalesce(runs.done, case when steps.total > 0 then steps.settled end) as done,
  coalesce(runs.total, nullif(steps.total, 0)) as total,
  case when runs.total is null then 'steps' else runs.unit end as unit,
  runs.created_at,
  runs.started_at,
  runs.finished_at,
  coalesce(runs.finished_at, now()) - coalesce(runs.started_at, runs.created_at) as duration,
  coalesce(t.version, 0) as attempts,
  t.state as task_state,
  runs.last_error,
  retries.n as retries
from runs
left join lateral (
  select rp.id, rp.state
    from resonate.workflow_attempts(runs.base_id) rp
   order by rp.created_at desc
   limit 1
) p on true
left join resonate.tasks t on t.id = p.id
left join lateral (
  select count(*) filter (where c.state <> 'pending')::int as settled, count(*)::int as total
    from resonate.promises c
   where c.id like resonate.like_literal(p.id) || ':%'
) steps on true
left join lateral (
  select greatest(count(*)::int - 1, 0) as n
    from resonate.workflow_attempts(runs.base_id)
) retries on true;
