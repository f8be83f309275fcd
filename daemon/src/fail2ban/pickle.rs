//! Pickles to and from fail2ban.
//!
//! Requests are encoded with serde-pickle. Replies are decoded here: fail2ban
//! pickles its address objects as `builtins.str` applied by REDUCE and its
//! errors as exception classes applied to their arguments, which serde-pickle
//! refuses. This decoder runs the subset of the pickle machine that Python
//! emits for plain data, keeps globals and REDUCE calls as values, and turns
//! `builtins.str(x)` back into `x`. It never panics and never allocates more
//! than its input justifies: every length is checked against the bytes left,
//! nesting is capped, and so is the number of values a reply may expand to.

/// A decoded pickle value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    List(Vec<Value>),
    Tuple(Vec<Value>),
    Dict(Vec<(Value, Value)>),
    Set(Vec<Value>),
    /// A class or function named by module and name.
    Global {
        module: String,
        name: String,
    },
    /// A global applied to arguments, such as an exception instance.
    Call {
        module: String,
        name: String,
        args: Vec<Value>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad pickle at byte {offset}: {message}")]
pub struct PickleError {
    pub offset: usize,
    pub message: String,
    /// True when the input ended before the STOP opcode: more bytes may come.
    pub truncated: bool,
}

/// Deepest nesting accepted.
const MAX_DEPTH: usize = 64;

/// Encodes a fail2ban command (a list of strings).
pub fn encode_command(args: &[&str]) -> Result<Vec<u8>, serde_pickle::Error> {
    serde_pickle::to_vec(&args, serde_pickle::SerOptions::new())
}

/// Decodes one complete pickle; bytes after its STOP are an error.
pub fn decode(input: &[u8]) -> Result<Value, PickleError> {
    let mut machine = Machine {
        input,
        pos: 0,
        stack: Vec::new(),
        marks: Vec::new(),
        memo: Vec::new(),
        // Values a reply may expand to, memo copies included.
        budget: input.len().saturating_mul(4).max(1024),
    };
    let value = machine.run()?;
    if machine.pos != input.len() {
        return Err(machine.error(format!(
            "{} bytes after the end of the pickle",
            input.len() - machine.pos
        )));
    }
    Ok(value)
}

/// A value with the depth of its nesting.
type Slot = (Value, usize);

struct Machine<'a> {
    input: &'a [u8],
    pos: usize,
    stack: Vec<Slot>,
    marks: Vec<usize>,
    memo: Vec<Option<Slot>>,
    budget: usize,
}

impl<'a> Machine<'a> {
    fn error(&self, message: impl Into<String>) -> PickleError {
        PickleError {
            offset: self.pos,
            message: message.into(),
            truncated: false,
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], PickleError> {
        if self.input.len() - self.pos < n {
            return Err(PickleError {
                offset: self.pos,
                message: format!("needs {n} more bytes than the input has"),
                truncated: true,
            });
        }
        let bytes = &self.input[self.pos..self.pos + n];
        self.pos += n;
        Ok(bytes)
    }

    fn byte(&mut self) -> Result<u8, PickleError> {
        Ok(self.take(1)?[0])
    }

    fn uint(&mut self, width: usize) -> Result<u64, PickleError> {
        let bytes = self.take(width)?;
        let mut buf = [0u8; 8];
        buf[..width].copy_from_slice(bytes);
        Ok(u64::from_le_bytes(buf))
    }

    fn length(&mut self, width: usize) -> Result<usize, PickleError> {
        let n = self.uint(width)?;
        usize::try_from(n).map_err(|_| self.error("length does not fit in memory"))
    }

    fn text(&mut self, width: usize) -> Result<String, PickleError> {
        let n = self.length(width)?;
        let bytes = self.take(n)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| self.error("string is not UTF-8"))
    }

    fn line(&mut self) -> Result<String, PickleError> {
        let rest = &self.input[self.pos..];
        let Some(end) = rest.iter().position(|&b| b == b'\n') else {
            return Err(PickleError {
                offset: self.pos,
                message: "unterminated line".into(),
                truncated: true,
            });
        };
        let text =
            String::from_utf8(rest[..end].to_vec()).map_err(|_| self.error("line is not UTF-8"))?;
        self.pos += end + 1;
        Ok(text)
    }

    fn charge(&mut self, nodes: usize) -> Result<(), PickleError> {
        if nodes > self.budget {
            return Err(self.error("the reply expands to too many values"));
        }
        self.budget -= nodes;
        Ok(())
    }

    fn push(&mut self, value: Value, depth: usize) -> Result<(), PickleError> {
        if depth > MAX_DEPTH {
            return Err(self.error(format!("nesting deeper than {MAX_DEPTH}")));
        }
        self.charge(1)?;
        self.stack.push((value, depth));
        Ok(())
    }

    fn pop(&mut self) -> Result<Slot, PickleError> {
        match self.stack.pop() {
            Some(slot) => {
                // A pop below the innermost mark eats the mark's contents.
                if let Some(&mark) = self.marks.last()
                    && self.stack.len() < mark
                {
                    return Err(self.error("pop below a mark"));
                }
                Ok(slot)
            }
            None => Err(self.error("stack underflow")),
        }
    }

    fn top(&mut self) -> Result<&mut Slot, PickleError> {
        let floor = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() <= floor {
            return Err(self.error("stack underflow"));
        }
        let pos = self.pos;
        self.stack.last_mut().ok_or(PickleError {
            offset: pos,
            message: "stack underflow".into(),
            truncated: false,
        })
    }

    /// Pops everything above the innermost mark, and the mark.
    fn pop_mark(&mut self) -> Result<Vec<Slot>, PickleError> {
        let mark = self.marks.pop().ok_or_else(|| self.error("no mark"))?;
        if mark > self.stack.len() {
            return Err(self.error("mark above the stack"));
        }
        Ok(self.stack.split_off(mark))
    }

    fn memo_put(&mut self, index: usize) -> Result<(), PickleError> {
        let slot = self.top()?.clone();
        self.charge(count(&slot.0))?;
        if index > self.memo.len() + 1_000_000 {
            return Err(self.error("memo index out of range"));
        }
        if self.memo.len() <= index {
            self.memo.resize(index + 1, None);
        }
        self.memo[index] = Some(slot);
        Ok(())
    }

    fn memo_get(&mut self, index: usize) -> Result<(), PickleError> {
        let Some(Some((value, depth))) = self.memo.get(index).cloned() else {
            return Err(self.error(format!("memo entry {index} is not set")));
        };
        self.charge(count(&value))?;
        self.push(value, depth)
    }

    fn run(&mut self) -> Result<Value, PickleError> {
        loop {
            let op = self.byte()?;
            match op {
                0x80 => {
                    let version = self.byte()?;
                    if version > 5 {
                        return Err(self.error(format!("pickle protocol {version} is unknown")));
                    }
                }
                0x95 => {
                    self.uint(8)?;
                }
                b'.' => {
                    let (value, _) = self.pop()?;
                    if !self.stack.is_empty() || !self.marks.is_empty() {
                        return Err(self.error("values left on the stack at STOP"));
                    }
                    return Ok(value);
                }
                b'(' => self.marks.push(self.stack.len()),
                b'0' => {
                    self.pop()?;
                }
                b'1' => {
                    self.pop_mark()?;
                }
                b'2' => {
                    let (value, depth) = self.top()?.clone();
                    self.charge(count(&value))?;
                    self.push(value, depth)?;
                }
                b'N' => self.push(Value::None, 0)?,
                0x88 => self.push(Value::Bool(true), 0)?,
                0x89 => self.push(Value::Bool(false), 0)?,
                b'J' => {
                    let v = self.uint(4)? as u32 as i32;
                    self.push(Value::Int(i64::from(v)), 0)?;
                }
                b'K' => {
                    let v = self.uint(1)?;
                    self.push(Value::Int(v as i64), 0)?;
                }
                b'M' => {
                    let v = self.uint(2)?;
                    self.push(Value::Int(v as i64), 0)?;
                }
                0x8a => {
                    let n = self.length(1)?;
                    let v = self.long(n)?;
                    self.push(Value::Int(v), 0)?;
                }
                0x8b => {
                    let n = self.length(4)?;
                    let v = self.long(n)?;
                    self.push(Value::Int(v), 0)?;
                }
                b'G' => {
                    let bytes = self.take(8)?;
                    let mut buf = [0u8; 8];
                    buf.copy_from_slice(bytes);
                    self.push(Value::Float(f64::from_be_bytes(buf)), 0)?;
                }
                0x8c => {
                    let s = self.text(1)?;
                    self.push(Value::Str(s), 0)?;
                }
                b'X' => {
                    let s = self.text(4)?;
                    self.push(Value::Str(s), 0)?;
                }
                0x8d => {
                    let s = self.text(8)?;
                    self.push(Value::Str(s), 0)?;
                }
                b'C' | b'B' | 0x8e => {
                    let width = match op {
                        b'C' => 1,
                        b'B' => 4,
                        _ => 8,
                    };
                    let n = self.length(width)?;
                    let bytes = self.take(n)?.to_vec();
                    self.push(Value::Bytes(bytes), 0)?;
                }
                b']' => self.push(Value::List(Vec::new()), 1)?,
                b')' => self.push(Value::Tuple(Vec::new()), 1)?,
                b'}' => self.push(Value::Dict(Vec::new()), 1)?,
                0x8f => self.push(Value::Set(Vec::new()), 1)?,
                b'l' | b't' | 0x91 => {
                    let items = self.pop_mark()?;
                    let depth = 1 + items.iter().map(|s| s.1).max().unwrap_or(0);
                    let values = items.into_iter().map(|s| s.0).collect();
                    let value = match op {
                        b'l' => Value::List(values),
                        b't' => Value::Tuple(values),
                        _ => Value::Set(values),
                    };
                    self.push(value, depth)?;
                }
                0x85..=0x87 => {
                    let n = usize::from(op - 0x84);
                    let mut items = Vec::with_capacity(n);
                    for _ in 0..n {
                        items.push(self.pop()?);
                    }
                    items.reverse();
                    let depth = 1 + items.iter().map(|s| s.1).max().unwrap_or(0);
                    self.push(
                        Value::Tuple(items.into_iter().map(|s| s.0).collect()),
                        depth,
                    )?;
                }
                b'a' => {
                    let item = self.pop()?;
                    self.extend(vec![item])?;
                }
                b'e' | 0x90 => {
                    let items = self.pop_mark()?;
                    self.extend(items)?;
                }
                b'd' => {
                    let items = self.pop_mark()?;
                    let depth = 1 + items.iter().map(|s| s.1).max().unwrap_or(0);
                    let pairs =
                        pairs(items).ok_or_else(|| self.error("odd number of dict items"))?;
                    self.push(Value::Dict(pairs), depth)?;
                }
                b's' => {
                    let value = self.pop()?;
                    let key = self.pop()?;
                    self.set_items(vec![key, value])?;
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    self.set_items(items)?;
                }
                b'c' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    self.push(Value::Global { module, name }, 0)?;
                }
                0x93 => {
                    let (name, _) = self.pop()?;
                    let (module, _) = self.pop()?;
                    match (module, name) {
                        (Value::Str(module), Value::Str(name)) => {
                            self.push(Value::Global { module, name }, 0)?
                        }
                        _ => return Err(self.error("STACK_GLOBAL needs two strings")),
                    }
                }
                b'R' | 0x81 => {
                    let (args, args_depth) = self.pop()?;
                    let (callable, _) = self.pop()?;
                    let Value::Global { module, name } = callable else {
                        return Err(self.error("REDUCE of something that is not a global"));
                    };
                    let Value::Tuple(args) = args else {
                        return Err(self.error("REDUCE arguments are not a tuple"));
                    };
                    let value = match (module.as_str(), name.as_str(), args.as_slice()) {
                        // fail2ban's address objects: str subclasses pickled as str(x).
                        ("builtins", "str", [Value::Str(s)]) => Value::Str(s.clone()),
                        _ => Value::Call { module, name, args },
                    };
                    self.push(value, args_depth + 1)?;
                }
                b'b' => {
                    // Object state (an exception's attributes): not needed.
                    self.pop()?;
                }
                0x94 => {
                    let index = self.memo.len();
                    self.memo_put(index)?;
                }
                b'q' => {
                    let index = self.length(1)?;
                    self.memo_put(index)?;
                }
                b'r' => {
                    let index = self.length(4)?;
                    self.memo_put(index)?;
                }
                b'h' => {
                    let index = self.length(1)?;
                    self.memo_get(index)?;
                }
                b'j' => {
                    let index = self.length(4)?;
                    self.memo_get(index)?;
                }
                other => {
                    self.pos -= 1;
                    return Err(self.error(format!("unsupported opcode {other:#04x}")));
                }
            }
        }
    }

    fn long(&mut self, n: usize) -> Result<i64, PickleError> {
        if n > 8 {
            return Err(self.error("integer wider than 64 bits"));
        }
        let bytes = self.take(n)?;
        if n == 0 {
            return Ok(0);
        }
        let negative = bytes[n - 1] & 0x80 != 0;
        let mut buf = if negative { [0xffu8; 8] } else { [0u8; 8] };
        buf[..n].copy_from_slice(bytes);
        Ok(i64::from_le_bytes(buf))
    }

    fn extend(&mut self, items: Vec<Slot>) -> Result<(), PickleError> {
        self.add_to_top(
            items,
            "append to something that is not a list or set",
            |target, items| match target {
                Value::List(list) | Value::Set(list) => {
                    list.extend(items.into_iter().map(|s| s.0));
                    true
                }
                _ => false,
            },
        )
    }

    fn set_items(&mut self, items: Vec<Slot>) -> Result<(), PickleError> {
        if items.len() % 2 != 0 {
            return Err(self.error("odd number of dict items"));
        }
        self.add_to_top(
            items,
            "set item on something that is not a dict",
            |target, items| match target {
                Value::Dict(dict) => {
                    let mut values = items.into_iter().map(|s| s.0);
                    while let (Some(k), Some(v)) = (values.next(), values.next()) {
                        dict.push((k, v));
                    }
                    true
                }
                _ => false,
            },
        )
    }

    /// Adds `items` to the container on top of the stack, keeping its depth
    /// current; `add` says whether the top was the right kind of container.
    fn add_to_top(
        &mut self,
        items: Vec<Slot>,
        wrong_kind: &str,
        add: impl FnOnce(&mut Value, Vec<Slot>) -> bool,
    ) -> Result<(), PickleError> {
        let item_depth = items.iter().map(|s| s.1).max().unwrap_or(0);
        let pos = self.pos;
        let (target, depth) = self.top()?;
        *depth = (*depth).max(item_depth + 1);
        let too_deep = *depth > MAX_DEPTH;
        if !add(target, items) {
            return Err(PickleError {
                offset: pos,
                message: wrong_kind.into(),
                truncated: false,
            });
        }
        if too_deep {
            return Err(self.error(format!("nesting deeper than {MAX_DEPTH}")));
        }
        Ok(())
    }
}

fn pairs(items: Vec<Slot>) -> Option<Vec<(Value, Value)>> {
    if items.len() % 2 != 0 {
        return None;
    }
    let mut out = Vec::with_capacity(items.len() / 2);
    let mut iter = items.into_iter().map(|s| s.0);
    while let (Some(k), Some(v)) = (iter.next(), iter.next()) {
        out.push((k, v));
    }
    Some(out)
}

/// How many values a value holds, itself included.
fn count(value: &Value) -> usize {
    match value {
        Value::List(items) | Value::Tuple(items) | Value::Set(items) => {
            1 + items.iter().map(count).sum::<usize>()
        }
        Value::Call { args, .. } => 1 + args.iter().map(count).sum::<usize>(),
        Value::Dict(pairs) => {
            1 + pairs
                .iter()
                .map(|(k, v)| count(k) + count(v))
                .sum::<usize>()
        }
        _ => 1,
    }
}

#[cfg(test)]
mod tests;
