//! Sprig's math functions (`numeric.go`): integer arithmetic on `cast.ToInt64` values
//! (`add`, `sub`, `mul`, `div`, `mod`, `max`, `min`, …), float arithmetic through
//! `shopspring/decimal` (`addf`, `subf`, `mulf`, `divf`, `add1f`), `floor`, `ceil`, `round`,
//! and the integer sequences `until`, `untilStep`, `seq`.

use std::cmp::Ordering;

use ferry_gotmpl::{FuncError, Funcs, List, Signature, Type, Value};
use num_bigint::{BigInt, Sign};

use super::util::{to_float64, to_int64};

type R = Result<Value, FuncError>;

/// Longest sequence `until`/`untilStep`/`seq` build (Go would exhaust memory instead).
const MAX_SEQ: usize = 10_000_000;

fn divide_by_zero() -> FuncError {
    FuncError::new("runtime error: integer divide by zero")
}

// ---- shopspring/decimal, as far as Sprig uses it ----

/// An exact decimal `mant × 10^exp`.
#[derive(Clone, Debug)]
struct Decimal {
    mant: BigInt,
    exp: i64,
}

fn pow10(n: u64) -> BigInt {
    BigInt::from(10u8).pow(n as u32)
}

impl Decimal {
    /// `decimal.NewFromFloat`: the shortest decimal that reads back as `f`.
    fn from_f64(f: f64) -> Result<Decimal, FuncError> {
        if f.is_nan() || f.is_infinite() {
            return Err(FuncError::new(format!(
                "Cannot create a Decimal from {}",
                ferry_gotmpl::gofmt::sprint(&[Value::Float(f)])
            )));
        }
        if f == 0.0 {
            return Ok(Decimal {
                mant: BigInt::from(0),
                exp: 0,
            });
        }
        let s = format!("{f:e}");
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        let e: i64 = e.parse().unwrap_or(0);
        let (ip, fp) = m.split_once('.').unwrap_or((m, ""));
        let digits = format!("{ip}{fp}");
        let mant: BigInt = digits.parse().unwrap_or_default();
        Ok(Decimal {
            mant,
            exp: e - fp.len() as i64,
        })
    }

    fn align(a: &Decimal, b: &Decimal) -> (BigInt, BigInt, i64) {
        let exp = a.exp.min(b.exp);
        let am = &a.mant * pow10((a.exp - exp) as u64);
        let bm = &b.mant * pow10((b.exp - exp) as u64);
        (am, bm, exp)
    }

    fn add(&self, o: &Decimal) -> Decimal {
        let (a, b, exp) = Decimal::align(self, o);
        Decimal { mant: a + b, exp }
    }

    fn sub(&self, o: &Decimal) -> Decimal {
        let (a, b, exp) = Decimal::align(self, o);
        Decimal { mant: a - b, exp }
    }

    fn mul(&self, o: &Decimal) -> Decimal {
        Decimal {
            mant: &self.mant * &o.mant,
            exp: self.exp + o.exp,
        }
    }

    /// `Div`: `DivRound` to 16 decimal places, halves away from zero.
    fn div(&self, o: &Decimal) -> Result<Decimal, FuncError> {
        const PRECISION: i64 = 16;
        if o.mant.sign() == Sign::NoSign {
            return Err(FuncError::new("decimal division by 0"));
        }
        let shift = self.exp - o.exp + PRECISION;
        let (num, den) = if shift >= 0 {
            (&self.mant * pow10(shift as u64), o.mant.clone())
        } else {
            (self.mant.clone(), &o.mant * pow10((-shift) as u64))
        };
        let mut q = &num / &den;
        let r = &num - &q * &den;
        let twice: BigInt = r.magnitude().clone().into();
        let twice: BigInt = twice * 2;
        let den_abs: BigInt = den.magnitude().clone().into();
        if twice.cmp(&den_abs) != Ordering::Less {
            if (self.mant.sign() == Sign::Minus) != (o.mant.sign() == Sign::Minus) {
                q -= 1;
            } else {
                q += 1;
            }
        }
        Ok(Decimal {
            mant: q,
            exp: -PRECISION,
        })
    }

    /// `Float64`: the nearest float.
    fn to_f64(&self) -> f64 {
        format!("{}e{}", self.mant, self.exp)
            .parse()
            .unwrap_or(f64::NAN)
    }
}

type DecOp = fn(&Decimal, &Decimal) -> Result<Decimal, FuncError>;

/// Sprig's `execDecimalOp`.
fn decimal_op(first: &Value, rest: &[Value], op: DecOp) -> R {
    let mut acc = Decimal::from_f64(to_float64(first))?;
    for x in rest {
        acc = op(&acc, &Decimal::from_f64(to_float64(x))?)?;
    }
    Ok(Value::Float(acc.to_f64()))
}

// ---- integer sequences ----

fn until_step(start: i64, stop: i64, step: i64) -> Result<Vec<i64>, FuncError> {
    let mut v = Vec::new();
    let too_long = || FuncError::new(format!("sequence longer than {MAX_SEQ} elements"));
    if stop < start {
        if step >= 0 {
            return Ok(v);
        }
        let mut i = start;
        while i > stop {
            if v.len() >= MAX_SEQ {
                return Err(too_long());
            }
            v.push(i);
            match i.checked_add(step) {
                Some(n) => i = n,
                None => break,
            }
        }
        return Ok(v);
    }
    if step <= 0 {
        return Ok(v);
    }
    let mut i = start;
    while i < stop {
        if v.len() >= MAX_SEQ {
            return Err(too_long());
        }
        v.push(i);
        match i.checked_add(step) {
            Some(n) => i = n,
            None => break,
        }
    }
    Ok(v)
}

fn int_list(v: Vec<i64>) -> Value {
    Value::List(List::typed(
        v.into_iter().map(Value::Int).collect(),
        Type::Int,
    ))
}

fn int_arg(v: &Value) -> i64 {
    match v {
        Value::Int(i) | Value::Int64(i) => *i,
        _ => 0,
    }
}

fn seq(params: &[i64]) -> Result<String, FuncError> {
    let join = |v: Vec<i64>| {
        v.iter()
            .map(|x| x.to_string())
            .collect::<Vec<_>>()
            .join(" ")
    };
    Ok(match *params {
        [end] => {
            let start = 1;
            let inc = if end < start { -1 } else { 1 };
            join(until_step(start, end.wrapping_add(inc), inc)?)
        }
        [start, end] => {
            let step = if end < start { -1 } else { 1 };
            join(until_step(start, end.wrapping_add(step), step)?)
        }
        [start, step, end] => {
            let mut inc = 1;
            if end < start {
                inc = -1;
                if step > 0 {
                    return Ok(String::new());
                }
            }
            join(until_step(start, end.wrapping_add(inc), step)?)
        }
        _ => String::new(),
    })
}

/// Go's `math.Pow(10, p)` for the integral `p` that `round` uses: exact where the power is
/// representable.
fn pow10_f64(p: f64) -> f64 {
    const EXACT: [f64; 23] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
        1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ];
    if p >= 0.0 && p < EXACT.len() as f64 {
        EXACT[p as usize]
    } else if p < 0.0 && -p < EXACT.len() as f64 {
        1.0 / EXACT[(-p) as usize]
    } else {
        10f64.powf(p)
    }
}

fn round(a: &[Value]) -> f64 {
    let round_on = match a.get(2) {
        Some(Value::Float(f)) => *f,
        _ => 0.5,
    };
    let val = to_float64(&a[0]);
    let places = int_arg(&a[1]) as f64;
    let pow = pow10_f64(places);
    let digit = pow * val;
    let frac = digit - digit.trunc();
    let r = if frac >= round_on {
        digit.ceil()
    } else {
        digit.floor()
    };
    r / pow
}

/// Registers this group's functions.
pub fn register(funcs: &mut Funcs) {
    let i = || Type::Interface;
    let i64t = || Type::Int64;
    let f64t = || Type::Float64;
    funcs.add("add1", Signature::new([i()], i64t()), |_, a| {
        Ok(Value::Int64(to_int64(&a[0]).wrapping_add(1)))
    });
    funcs.add("add", Signature::variadic([], i(), i64t()), |_, a| {
        Ok(Value::Int64(
            a.iter().fold(0i64, |acc, x| acc.wrapping_add(to_int64(x))),
        ))
    });
    funcs.add("sub", Signature::new([i(), i()], i64t()), |_, a| {
        Ok(Value::Int64(to_int64(&a[0]).wrapping_sub(to_int64(&a[1]))))
    });
    funcs.add("div", Signature::new([i(), i()], i64t()), |_, a| {
        let d = to_int64(&a[1]);
        if d == 0 {
            return Err(divide_by_zero());
        }
        Ok(Value::Int64(to_int64(&a[0]).wrapping_div(d)))
    });
    funcs.add("mod", Signature::new([i(), i()], i64t()), |_, a| {
        let d = to_int64(&a[1]);
        if d == 0 {
            return Err(divide_by_zero());
        }
        Ok(Value::Int64(to_int64(&a[0]).wrapping_rem(d)))
    });
    funcs.add("mul", Signature::variadic([i()], i(), i64t()), |_, a| {
        Ok(Value::Int64(
            a[1..]
                .iter()
                .fold(to_int64(&a[0]), |acc, x| acc.wrapping_mul(to_int64(x))),
        ))
    });
    for name in ["max", "biggest"] {
        funcs.add(name, Signature::variadic([i()], i(), i64t()), |_, a| {
            Ok(Value::Int64(
                a[1..]
                    .iter()
                    .fold(to_int64(&a[0]), |acc, x| acc.max(to_int64(x))),
            ))
        });
    }
    funcs.add("min", Signature::variadic([i()], i(), i64t()), |_, a| {
        Ok(Value::Int64(
            a[1..]
                .iter()
                .fold(to_int64(&a[0]), |acc, x| acc.min(to_int64(x))),
        ))
    });
    funcs.add("maxf", Signature::variadic([i()], i(), f64t()), |_, a| {
        Ok(Value::Float(
            a[1..]
                .iter()
                .fold(to_float64(&a[0]), |acc, x| go_max(acc, to_float64(x))),
        ))
    });
    funcs.add("minf", Signature::variadic([i()], i(), f64t()), |_, a| {
        Ok(Value::Float(
            a[1..]
                .iter()
                .fold(to_float64(&a[0]), |acc, x| go_min(acc, to_float64(x))),
        ))
    });
    funcs.add("floor", Signature::new([i()], f64t()), |_, a| {
        Ok(Value::Float(to_float64(&a[0]).floor()))
    });
    funcs.add("ceil", Signature::new([i()], f64t()), |_, a| {
        Ok(Value::Float(to_float64(&a[0]).ceil()))
    });
    funcs.add(
        "round",
        Signature::variadic([i(), Type::Int], f64t(), f64t()),
        |_, a| Ok(Value::Float(round(&a))),
    );
    funcs.add("add1f", Signature::new([i()], f64t()), |_, a| {
        decimal_op(&a[0], &[Value::Int(1)], |x, y| Ok(x.add(y)))
    });
    funcs.add("addf", Signature::variadic([], i(), f64t()), |_, a| {
        decimal_op(&Value::Float(0.0), &a, |x, y| Ok(x.add(y)))
    });
    funcs.add("subf", Signature::variadic([i()], i(), f64t()), |_, a| {
        decimal_op(&a[0], &a[1..], |x, y| Ok(x.sub(y)))
    });
    funcs.add("mulf", Signature::variadic([i()], i(), f64t()), |_, a| {
        decimal_op(&a[0], &a[1..], |x, y| Ok(x.mul(y)))
    });
    funcs.add("divf", Signature::variadic([i()], i(), f64t()), |_, a| {
        decimal_op(&a[0], &a[1..], Decimal::div)
    });
    let ints = || Type::Slice(Box::new(Type::Int));
    funcs.add("until", Signature::new([Type::Int], ints()), |_, a| {
        let count = int_arg(&a[0]);
        let step = if count < 0 { -1 } else { 1 };
        Ok(int_list(until_step(0, count, step)?))
    });
    funcs.add(
        "untilStep",
        Signature::new([Type::Int, Type::Int, Type::Int], ints()),
        |_, a| {
            Ok(int_list(until_step(
                int_arg(&a[0]),
                int_arg(&a[1]),
                int_arg(&a[2]),
            )?))
        },
    );
    funcs.add(
        "seq",
        Signature::variadic([], Type::Int, Type::String),
        |_, a| {
            let p: Vec<i64> = a.iter().map(int_arg).collect();
            Ok(Value::from(seq(&p)?))
        },
    );
}

/// Go's `math.Max`: NaN wins, +0 beats -0.
fn go_max(a: f64, b: f64) -> f64 {
    if a.is_infinite() && a > 0.0 || b.is_infinite() && b > 0.0 {
        return f64::INFINITY;
    }
    if a.is_nan() || b.is_nan() {
        return f64::NAN;
    }
    if a == 0.0 && b == 0.0 {
        return if a.is_sign_negative() { b } else { a };
    }
    if a > b { a } else { b }
}

/// Go's `math.Min`: NaN wins, -0 beats +0.
fn go_min(a: f64, b: f64) -> f64 {
    if a.is_infinite() && a < 0.0 || b.is_infinite() && b < 0.0 {
        return f64::NEG_INFINITY;
    }
    if a.is_nan() || b.is_nan() {
        return f64::NAN;
    }
    if a == 0.0 && b == 0.0 {
        return if a.is_sign_negative() { a } else { b };
    }
    if a < b { a } else { b }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(f: f64) -> Decimal {
        Decimal::from_f64(f).unwrap()
    }

    #[test]
    fn decimal_arithmetic_is_exact() {
        assert_eq!(dec(0.1).add(&dec(0.2)).to_f64(), 0.3);
        assert_eq!(dec(1.1).mul(&dec(3.0)).to_f64(), 3.3);
        assert_eq!(
            dec(1.0).div(&dec(3.0)).unwrap().to_f64(),
            0.3333333333333333
        );
        assert_eq!(
            dec(2.0).div(&dec(3.0)).unwrap().to_f64(),
            0.6666666666666667
        );
        assert_eq!(
            dec(-2.0).div(&dec(3.0)).unwrap().to_f64(),
            -0.6666666666666667
        );
        assert!(dec(1.0).div(&dec(0.0)).is_err());
        assert!(Decimal::from_f64(f64::NAN).is_err());
        assert_eq!(dec(1e300).add(&dec(1e-300)).to_f64(), 1e300);
    }

    #[test]
    fn sequences() {
        assert_eq!(seq(&[0]).unwrap(), "1 0");
        assert_eq!(seq(&[1, -1, 5]).unwrap(), "");
        assert_eq!(until_step(0, 10, 3).unwrap(), vec![0, 3, 6, 9]);
        assert_eq!(until_step(i64::MAX - 1, i64::MAX, 5).unwrap().len(), 1);
        assert!(until_step(0, i64::MAX, 1).is_err());
    }
}
