with

batch_results as (

    select * from {{ ref('stg_together__batch_results') }}
    -- Every batch on a full build; on an incremental one, the batches whose inputs changed.
    where {{ is_batch_to_build('batch_id') }}

),

batches as (

    select * from {{ ref('stg_together__batches') }}

),

results_keyed as (

    -- The keys of the usage object and of its prompt_tokens_details, with one parse; and
    -- whether the line answers an audio batch (billed per minute of audio, not per token).
    select
        batch_results.*,
        json_keys(batch_results.usage_json, ['$', '$.prompt_tokens_details']) as usage_keys,
        coalesce(batches.is_audio, false) as is_audio

    from batch_results
    left join batches
        on batch_results.batch_id = batches.batch_id

),

results_validated as (

    -- Usage becomes money only when every token count it gives is a JSON integer from 0 to
    -- var('max_tokens_per_line'), prompt and completion tokens are given, cached tokens are
    -- no more than prompt tokens and no key is given twice (readers disagree on which copy
    -- counts). A succeeded line must carry usage, and an output line must carry an HTTP
    -- status (else nobody can tell whether it was billed). Anything else is flagged, and
    -- its item is left unpriced. One case gives each flag its kind and its detail.
    select
        *,
        case
            when result_file_kind = 'output' and status_code is null
                then {
                    'kind': 'invalid_status_code',
                    'detail': 'status_code is missing or not an HTTP status (100-599)'
                }
            -- An audio result is billed on the duration it reports, which Together gives only
            -- in the verbose_json response format: without one the item is unpriced, never
            -- guessed. Its usage (Together documents none for audio) is not read.
            when is_audio and is_succeeded and audio_duration_json is null
                then {
                    'kind': 'missing_audio_duration',
                    'detail': 'the audio result reports no duration (Together reports one only '
                    || 'for response_format verbose_json)'
                }
            when is_audio and audio_duration_json is not null
                then { 'kind': 'invalid_audio_duration', 'detail': case
                    when audio_seconds is null
                        then
                            'duration is ' || left(audio_duration_json, 40)
                            || ', not a number of seconds'
                    when
                        audio_seconds < 0
                        or audio_seconds > {{ var('max_audio_seconds_per_line') }}
                        then
                            'duration is ' || audio_seconds || ' s, outside 0 to '
                            || {{ var('max_audio_seconds_per_line') }}
                end }
            when is_audio then { 'kind': null, 'detail': null }
            when usage_json is null and is_succeeded
                then { 'kind': 'missing_usage', 'detail': 'usage is missing' }
            when usage_json is not null
                then { 'kind': 'invalid_usage', 'detail': nullif(concat_ws(
                    '; ',
                    {{ usage_field_issue('prompt_tokens_json', 'prompt_tokens', required=true) }},
                    {{ usage_field_issue(
                        'completion_tokens_json', 'completion_tokens', required=true
                    ) }},
                    {{ usage_field_issue('total_tokens_json', 'total_tokens') }},
                    {{ usage_field_issue('cached_tokens_json', 'cached_tokens') }},
                    {{ usage_field_issue(
                        'prompt_tokens_details_cached_tokens_json',
                        'prompt_tokens_details.cached_tokens'
                    ) }},
                    case
                        when prompt_tokens >= 0 and cached_prompt_tokens > prompt_tokens
                            then
                                'cached tokens (' || cached_prompt_tokens
                                || ') exceed prompt_tokens (' || prompt_tokens || ')'
                    end,
                    case
                        when
                            len(usage_keys[1]) <> len(list_distinct(usage_keys[1]))
                            or len(usage_keys[2]) <> len(list_distinct(usage_keys[2]))
                            then 'usage gives a key twice'
                    end
                ), '') }
        end as usage_flag,
        case
            when completion_created_unix is not null and completion_created_at is null
                then 'created is ' || completion_created_unix || ', not a time from 2000 to 2100'
        end as created_issue

    from results_keyed

),

results_classified as (

    -- A flag without a detail is no flag: clean usage.
    select
        * exclude (usage_flag),
        usage_flag['detail'] as usage_issue,
        case when usage_flag['detail'] is not null then usage_flag['kind'] end as usage_issue_kind

    from results_validated

),

answered_twice as (

    -- The requests that more than one line answers: rare (a provider bug), so only their
    -- lines are sorted below (a window over every line sorted them all). This step and the
    -- next read two to six narrow columns straight from the staging view and parse no
    -- usage, so the wide checked rows pass through once: when three steps read them, DuckDB
    -- materialised a copy of every line, the largest cost of a full build at 10M items
    -- after the request-result join.
    select
        batch_id,
        custom_id

    from {{ ref('stg_together__batch_results') }}
    where {{ is_batch_to_build('batch_id') }}
    group by batch_id, custom_id
    having count(*) > 1

),

duplicate_lines_ranked as (

    -- The line that stands for a request when several answer it: a total order on what the
    -- lines say, never on when or in which run they were loaded, so an incremental build
    -- picks the same line as a full one. A succeeded line first, then the output file
    -- before the error file, then file id, then line number. Only the lines of requests
    -- answered twice; a request answered once is its own winner.
    select
        duplicate_lines.result_file_id,
        duplicate_lines.result_line_number,
        row_number() over requests_lines as result_rank,
        first_value(
            duplicate_lines.result_file_kind || ':' || duplicate_lines.result_file_id
            || ':' || duplicate_lines.result_line_number
        ) over requests_lines as winning_result_line

    from {{ ref('stg_together__batch_results') }} as duplicate_lines
    semi join answered_twice
        on duplicate_lines.batch_id is not distinct from answered_twice.batch_id
        and duplicate_lines.custom_id is not distinct from answered_twice.custom_id
    where {{ is_batch_to_build('duplicate_lines.batch_id') }}
    window requests_lines as (
        partition by duplicate_lines.batch_id, duplicate_lines.custom_id
        order by
            duplicate_lines.is_succeeded desc,
            duplicate_lines.result_file_kind desc,
            duplicate_lines.result_file_id asc,
            duplicate_lines.result_line_number asc
    )

),

results_ranked as (

    -- A line is one (result_file_id, result_line_number), the raw table's key.
    select
        results_classified.*,
        coalesce(duplicate_lines_ranked.result_rank, 1) as result_rank,
        coalesce(
            duplicate_lines_ranked.winning_result_line,
            results_classified.result_file_kind || ':' || results_classified.result_file_id
            || ':' || results_classified.result_line_number
        ) as winning_result_line

    from results_classified
    left join duplicate_lines_ranked
        on results_classified.result_file_id = duplicate_lines_ranked.result_file_id
        and results_classified.result_line_number = duplicate_lines_ranked.result_line_number

),

checked as (

    -- Flagged usage counts no tokens: none of its numbers can be trusted. An audio line
    -- counts seconds and no tokens; a flagged duration counts none.
    select
        * replace (
            case when usage_issue is null and not is_audio then prompt_tokens end
                as prompt_tokens,
            case when usage_issue is null and not is_audio then cached_prompt_tokens end
                as cached_prompt_tokens,
            case when usage_issue is null and not is_audio then completion_tokens end
                as completion_tokens,
            -- A total below prompt + completion is not trusted: the sum stands instead.
            case
                when usage_issue is null and not is_audio then greatest(
                    total_tokens, prompt_tokens + completion_tokens
                )
            end as total_tokens,
            case when usage_issue is null and is_audio then audio_seconds end as audio_seconds
        )

    from results_ranked

)

select * from checked
