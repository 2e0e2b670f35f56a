"""Sans-IO Tendermint BFT consensus over opaque block ids (see docs/adr/0004-bft-consensus.md)."""

from consensus.certificate import certificate_time_ms, make_certificate, verify_certificate, verify_evidence
from consensus.codec import (
    decode_certificate,
    decode_message,
    decode_sign_record,
    encode_certificate,
    encode_message,
    encode_sign_record,
)
from consensus.errors import (
    ConsensusError,
    InvalidCertificate,
    InvalidEvidence,
    InvalidMessage,
    InvalidProposal,
    InvalidValidatorSet,
    MisuseError,
)
from consensus.machine import (
    Broadcast,
    Commit,
    Consensus,
    EvidenceFound,
    Output,
    PersistSignRecord,
    RequestProposal,
    ScheduleTimeout,
    Timeout,
    TimeoutConfig,
)
from consensus.proposals import check_proposal
from consensus.types import (
    CommitCertificate,
    ConsensusMessage,
    DuplicateVoteEvidence,
    Proposal,
    SignRecord,
    Step,
    ValidatorSet,
    Vote,
    VoteType,
)

TendermintMachine = Consensus

__all__ = [
    "Broadcast",
    "Commit",
    "CommitCertificate",
    "Consensus",
    "ConsensusError",
    "ConsensusMessage",
    "DuplicateVoteEvidence",
    "EvidenceFound",
    "InvalidCertificate",
    "InvalidEvidence",
    "InvalidMessage",
    "InvalidProposal",
    "InvalidValidatorSet",
    "MisuseError",
    "Output",
    "PersistSignRecord",
    "Proposal",
    "RequestProposal",
    "ScheduleTimeout",
    "SignRecord",
    "Step",
    "TendermintMachine",
    "Timeout",
    "TimeoutConfig",
    "ValidatorSet",
    "Vote",
    "VoteType",
    "certificate_time_ms",
    "check_proposal",
    "decode_certificate",
    "decode_message",
    "decode_sign_record",
    "encode_certificate",
    "encode_message",
    "encode_sign_record",
    "make_certificate",
    "verify_certificate",
    "verify_evidence",
]
