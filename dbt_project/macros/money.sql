{#
  Exact money arithmetic. DuckDB turns DECIMAL / DECIMAL into DOUBLE, so divisions that yield
  money go through 128-bit integers: round_half_up(a * b / c, 14 decimals), exactly. Overflow
  raises an error rather than losing digits: money_muldiv (a, b, c all money) needs |a * b| under
  ~8.5e9 USD^2 (a 10 USD call of an 850M USD invoice month); money_div (count denominator) ~1e24 USD.
  Engine-specific, hence dispatched: another adapter brings its own implementation.
#}
{% macro money_muldiv(a, b, c) %}{{ return(adapter.dispatch('money_muldiv', 'tokenpnl')(a, b, c)) }}{% endmacro %}

{% macro default__money_muldiv(a, b, c) -%}
    cast(round(cast({{ a }} as decimal(38, 14)) * {{ b }} / {{ c }}, 14) as decimal(38, 14))
{%- endmacro %}

{% macro duckdb__money_muldiv(a, b, c) -%}
    {{ tokenpnl.units_muldiv(tokenpnl.money_units(a), tokenpnl.money_units(b), tokenpnl.money_units(c)) }}
{%- endmacro %}

{# money_muldiv on HUGEINT counts of 1e-14 USD (money_units): a model computing many of them
   converts each operand once (the conversion is the costly part: ~1 us a value). #}
{% macro units_muldiv(au, bu, cu) -%}
    (case when ({{ cu }}) is null or ({{ cu }}) = 0 or ({{ au }}) is null or ({{ bu }}) is null then null
     else cast(cast(sign({{ au }}) * sign({{ bu }}) * sign({{ cu }})
                    * ((2 * abs({{ au }} * {{ bu }}) + abs({{ cu }})) // (2 * abs({{ cu }})))
               as decimal(38, 0)) * 0.00000000000001::decimal(15, 14) as decimal(38, 14)) end)
{%- endmacro %}

{# x (any number) as a HUGEINT count of 1e-14 units, exactly. #}
{% macro money_units(x) -%}
    (trunc(cast({{ x }} as decimal(38, 14)))::hugeint * 100000000000000::hugeint
     + ((cast({{ x }} as decimal(38, 14)) - trunc(cast({{ x }} as decimal(38, 14)))) * 100000000000000)::hugeint)
{%- endmacro %}

{# a / n for money a and a whole count n (calls, tokens, successes), exact to 14 decimals, rounded
   half away from zero, NULL when n is 0 or NULL. n is not scaled to money units, so a figure up to
   ~1e24 USD fits (money_muldiv(a, 1, n) overflowed for a * 1e6 past ~8.5e3 USD). #}
{% macro money_div(a, n) %}{{ return(adapter.dispatch('money_div', 'tokenpnl')(a, n)) }}{% endmacro %}

{% macro default__money_div(a, n) -%}
    cast(round(cast({{ a }} as decimal(38, 14)) / {{ n }}, 14) as decimal(38, 14))
{%- endmacro %}

{% macro duckdb__money_div(a, n) -%}
    {%- set au = tokenpnl.money_units(a) -%}
    (case when ({{ n }}) is null or ({{ n }}) = 0 or ({{ a }}) is null then null
     else cast(cast(sign({{ au }}) * sign(({{ n }})::hugeint)
                    * ((2 * abs({{ au }}) + abs(({{ n }})::hugeint)) // (2 * abs(({{ n }})::hugeint)))
               as decimal(38, 0)) * 0.00000000000001::decimal(15, 14) as decimal(38, 14)) end)
{%- endmacro %}

{# Cost of `tokens` at `price` USD per million tokens: exact for prices with up to 8 decimals,
   rounded half away from zero at 14 decimals beyond that (books hold up to 12). #}
{% macro mtok_cost(tokens, price) %}{{ return(adapter.dispatch('mtok_cost', 'tokenpnl')(tokens, price)) }}{% endmacro %}
{% macro default__mtok_cost(tokens, price) -%}
    cast(cast({{ tokens }} as decimal(18, 0)) * cast({{ price }} as decimal(24, 12)) * 0.000001::decimal(7, 6) as decimal(38, 14))
{%- endmacro %}

{# A price in whole 1e-8 USD per million tokens (BIGINT), when it is exact so and below 900 USD:
   then mtok_cost_e8 needs no decimal arithmetic. NULL otherwise (the exact decimal path is taken). #}
{% macro price_e8(price) -%}
    case when {{ price }} >= 0 and {{ price }} < 900 and {{ price }} * 100000000 = trunc({{ price }} * 100000000)
         then cast({{ price }} * 100000000 as bigint) end
{%- endmacro %}

{# The cost of `tokens` at a price_e8 in whole 1e-14 USD (BIGINT): exact, no decimal arithmetic
   (under 1e8 tokens x 9e10 < 9.2e18). NULL when the price or the count is outside that range:
   then mtok_cost's decimal way gives the same figure, slower. #}
{% macro mtok_cost_e14(tokens, price_e8) -%}
    (case when {{ price_e8 }} is not null and abs({{ tokens }}) < 100000000
          then cast({{ tokens }} as bigint) * {{ price_e8 }} end)
{%- endmacro %}

{# A whole count of 1e-14 USD as DECIMAL(38, 14) money. #}
{% macro e14_money(units) -%}
    cast(cast({{ units }} as decimal(38, 0)) * 0.00000000000001::decimal(15, 14) as decimal(38, 14))
{%- endmacro %}

{# A ratio of two numbers as DOUBLE (ratios and rates may be binary floats), NULL on 0. #}
{% macro ratio(num, den) %}{{ return(adapter.dispatch('ratio', 'tokenpnl')(num, den)) }}{% endmacro %}
{% macro default__ratio(num, den) -%}
    (cast({{ num }} as double) / nullif(cast({{ den }} as double), 0))
{%- endmacro %}
