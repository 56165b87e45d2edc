"""`invoke.parser`'s names: `Argument` (an option a Program adds), `ParserContext` and
`ParseResult` (what `Executor.core` holds); `Parser` refuses to be made (corral uses click)."""

from .cli.arguments import Argument, Parser, ParserContext, ParseResult

__all__ = ["Argument", "ParseResult", "Parser", "ParserContext"]
