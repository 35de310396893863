//! SQLite (the C library, through rusqlite's bundled build) on an in-memory database:
//! `sqlite N` inserts N generated orders and N/10 customers in transactions with prepared
//! statements, builds an index, then runs aggregates, a join, sorts, LIKE scans, updates
//! and deletes, and prints a checksum of every result. Exercises the SQLite bytecode VM,
//! its B-tree and pager (in memory), and many small calls across the C library.

use rusqlite::{Connection, params};
use std::process::ExitCode;

/// The fixed generator that makes every run's data the same.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// FNV-1a over the rows each query returns, so any difference in a result shows.
struct Checksum(u64);

impl Checksum {
    fn add_bytes(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x100_0000_01b3);
        }
    }
    fn add_i64(&mut self, v: i64) {
        self.add_bytes(&v.to_le_bytes());
    }
    fn add_f64(&mut self, v: f64) {
        // Rounded to cents: sums of money are the values compared.
        self.add_i64((v * 100.0).round() as i64);
    }
}

const WORDS: [&str; 12] = [
    "apple", "banana", "cherry", "delta", "echo", "falcon", "granite", "harbor", "indigo",
    "juniper", "kettle", "lantern",
];

fn run(orders: u64) -> rusqlite::Result<(u64, i64)> {
    let db = Connection::open_in_memory()?;
    // Sorts and index builds would otherwise spill to temporary files: no file system here.
    db.execute_batch(
        "PRAGMA temp_store = MEMORY;
         CREATE TABLE customer (id INTEGER PRIMARY KEY, name TEXT NOT NULL, city TEXT NOT NULL, tier INTEGER);
         CREATE TABLE orders (id INTEGER PRIMARY KEY, customer INTEGER NOT NULL, item TEXT NOT NULL,
                              qty INTEGER NOT NULL, price REAL NOT NULL, note TEXT);",
    )?;
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let customers = (orders / 10).max(1);
    let tx = db.unchecked_transaction()?;
    {
        let mut ins =
            tx.prepare("INSERT INTO customer (id, name, city, tier) VALUES (?1, ?2, ?3, ?4)")?;
        for id in 0..customers {
            let name = format!("{}-{}", WORDS[rng.below(12) as usize], id);
            let city = WORDS[rng.below(6) as usize + 6];
            ins.execute(params![id as i64, name, city, rng.below(4) as i64])?;
        }
        let mut ins = tx.prepare(
            "INSERT INTO orders (customer, item, qty, price, note) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for i in 0..orders {
            let item = format!(
                "{} {}",
                WORDS[rng.below(12) as usize],
                WORDS[rng.below(12) as usize]
            );
            let note = if i % 7 == 0 {
                Some(format!("rush order {i}"))
            } else {
                None
            };
            ins.execute(params![
                rng.below(customers) as i64,
                item,
                rng.below(20) as i64 + 1,
                rng.below(10_000) as f64 / 100.0,
                note
            ])?;
        }
    }
    tx.commit()?;
    db.execute_batch("CREATE INDEX orders_customer ON orders(customer); CREATE INDEX orders_item ON orders(item);")?;

    let mut sum = Checksum(0xcbf2_9ce4_8422_2325);
    let mut rows = 0i64;
    // Aggregates grouped by item, sorted by revenue.
    let mut q = db.prepare(
        "SELECT item, COUNT(*), SUM(qty), SUM(qty * price) AS revenue FROM orders GROUP BY item ORDER BY revenue DESC, item",
    )?;
    let mut r = q.query([])?;
    while let Some(row) = r.next()? {
        sum.add_bytes(row.get_ref(0)?.as_str()?.as_bytes());
        sum.add_i64(row.get(1)?);
        sum.add_i64(row.get(2)?);
        sum.add_f64(row.get(3)?);
        rows += 1;
    }
    // A join through the index, per city and tier.
    let mut q = db.prepare(
        "SELECT c.city, c.tier, COUNT(o.id), AVG(o.price), MAX(o.qty) FROM customer c JOIN orders o ON o.customer = c.id
         GROUP BY c.city, c.tier ORDER BY c.city, c.tier",
    )?;
    let mut r = q.query([])?;
    while let Some(row) = r.next()? {
        sum.add_bytes(row.get_ref(0)?.as_str()?.as_bytes());
        sum.add_i64(row.get(1)?);
        sum.add_i64(row.get(2)?);
        sum.add_f64(row.get(3)?);
        sum.add_i64(row.get(4)?);
        rows += 1;
    }
    // Point lookups by customer with a prepared statement, many small queries.
    let mut q =
        db.prepare("SELECT COUNT(*), COALESCE(SUM(qty), 0) FROM orders WHERE customer = ?1")?;
    for c in (0..customers).step_by(3) {
        let (n, qty): (i64, i64) = q.query_row([c as i64], |row| Ok((row.get(0)?, row.get(1)?)))?;
        sum.add_i64(n);
        sum.add_i64(qty);
        rows += 1;
    }
    // A LIKE scan and a top-k sort.
    let n: i64 = db.query_row(
        "SELECT COUNT(*) FROM orders WHERE note LIKE '%7 %' OR item LIKE 'ch%o'",
        [],
        |row| row.get(0),
    )?;
    sum.add_i64(n);
    let mut q =
        db.prepare("SELECT id, qty * price FROM orders ORDER BY qty * price DESC, id LIMIT 50")?;
    let mut r = q.query([])?;
    while let Some(row) = r.next()? {
        sum.add_i64(row.get(0)?);
        sum.add_f64(row.get(1)?);
        rows += 1;
    }
    // Updates and deletes, then a final aggregate.
    let changed = db.execute("UPDATE orders SET price = price * 1.1 WHERE qty > 15", [])?;
    let deleted = db.execute("DELETE FROM orders WHERE customer % 5 = 0", [])?;
    sum.add_i64(changed as i64);
    sum.add_i64(deleted as i64);
    let total: f64 = db.query_row("SELECT SUM(qty * price) FROM orders", [], |row| row.get(0))?;
    sum.add_f64(total);
    Ok((sum.0, rows))
}

fn main() -> ExitCode {
    let Some(orders) = std::env::args().nth(1).and_then(|a| a.parse::<u64>().ok()) else {
        eprintln!("usage: sqlite ORDERS");
        return ExitCode::from(2);
    };
    match run(orders) {
        Ok((sum, rows)) => {
            println!("sqlite {orders} orders: {rows} result rows, checksum {sum:016x}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("sqlite: {e}");
            ExitCode::FAILURE
        }
    }
}
