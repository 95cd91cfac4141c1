/// Reading rows straight from SQLite, by column position, for the queries that
/// return many rows or run on every client load (a page of accounts, a client's
/// credentials).
///
/// GRDB's `Row` subscripts decode through a generic conversion that looks up type
/// metadata for every column, and `Row.fetchAll` copies every value first: together
/// two thirds of the CPU of reading a page of fifty accounts. Here each column is one
/// `sqlite3_column_*` call on the statement GRDB has just stepped.

import Foundation
import GRDB
import GRDBSQLite
import TesseraCore

/// The current row of a statement being stepped. Valid only inside the closure
/// ``Statement/rows(arguments:_:)`` or ``Statement/firstRow(arguments:_:)`` calls it with.
struct StatementRow {
    fileprivate let statement: SQLiteStatement

    func isNull(_ column: Int32) -> Bool {
        sqlite3_column_type(statement, column) == SQLITE_NULL
    }

    func int(_ column: Int32) -> Int {
        Int(sqlite3_column_int64(statement, column))
    }

    func int(orNil column: Int32) -> Int? {
        isNull(column) ? nil : int(column)
    }

    func double(_ column: Int32) -> Double {
        sqlite3_column_double(statement, column)
    }

    func double(orNil column: Int32) -> Double? {
        isNull(column) ? nil : double(column)
    }

    /// The column's text (a `NULL` reads as the empty string, as SQLite gives it).
    func text(_ column: Int32) -> String {
        withText(column) { String(decoding: $0, as: UTF8.self) }
    }

    func text(orNil column: Int32) -> String? {
        isNull(column) ? nil : text(column)
    }

    /// Calls `body` with the column's text as UTF-8 bytes, without copying them.
    func withText<Result>(_ column: Int32, _ body: (UnsafeBufferPointer<UInt8>) throws -> Result) rethrows -> Result {
        // sqlite3_column_text before sqlite3_column_bytes, as SQLite asks: the
        // count is then the length of the text form.
        let start = sqlite3_column_text(statement, column)
        let count = Int(sqlite3_column_bytes(statement, column))
        return try body(UnsafeBufferPointer(start: start, count: start == nil ? 0 : count))
    }

    /// The column's text as a UUID; anything else is a store error.
    func uuid(_ column: Int32) throws -> UUID {
        guard let id = withText(column, { UUID(utf8: $0) }) else {
            throw StoreError.unavailable("stored id \"\(text(column))\" is not a UUID")
        }
        return id
    }
}

extension Statement {
    /// Runs the statement with `arguments` and maps each row it gives.
    func rows<Element>(arguments: StatementArguments, _ transform: (StatementRow) throws -> Element) throws -> [Element] {
        var elements: [Element] = []
        let row = StatementRow(statement: sqliteStatement)
        try Row.fetchCursor(self, arguments: arguments).forEach { _ in elements.append(try transform(row)) }
        return elements
    }

    /// The first row the statement gives with `arguments`, mapped, or `nil`.
    func firstRow<Element>(arguments: StatementArguments, _ transform: (StatementRow) throws -> Element) throws -> Element? {
        let cursor = try Row.fetchCursor(self, arguments: arguments)
        // The cursor resets the statement when it goes: it must outlive the reading.
        return try withExtendedLifetime(cursor) {
            guard try cursor.next() != nil else { return nil }
            return try transform(StatementRow(statement: sqliteStatement))
        }
    }
}
