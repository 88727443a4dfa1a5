//! What the simulator pays per object for security: decoding a stored descriptor, parsing a
//! class default, one access check over a class / property set / attribute list, and the
//! descriptor of a new child. Fixture: domainDNS's default descriptor (the largest in the
//! schema, 55 ACEs) as the parent, msDS-Device's as the child.
//!
//! Run: `cargo bench -p devwb-model --bench security`.

use criterion::{criterion_group, criterion_main, Criterion};
use devwb_model::sd::{
    access_check, inherit, AccessMask, ObjectTypeList, SddlContext, SecurityDescriptor, Token,
};
use devwb_model::{Guid, Sid};
use std::hint::black_box;

fn default_sddl(class: &str) -> &'static str {
    include_str!("../tests/it/sd/data/default_security_descriptors.tsv")
        .lines()
        .filter_map(|line| line.split_once('\t'))
        .filter(|(name, _)| *name == class)
        .map(|(_, sddl)| sddl)
        .max_by_key(|sddl| sddl.len())
        .unwrap_or_else(|| panic!("{class} is in the schema table"))
}

fn benches(c: &mut Criterion) {
    let domain = Sid::from_parts(5, &[21, 1_004_336_348, 1_177_238_915, 682_003_330]);
    let context = SddlContext::new(domain);
    let head_sddl = default_sddl("domainDNS");
    let head = SecurityDescriptor::from_sddl(head_sddl, &context).expect("schema SDDL parses");
    let head_bytes = head.to_bytes().expect("encodes");
    let device_default = SecurityDescriptor::from_sddl(default_sddl("msDS-Device"), &context)
        .expect("schema SDDL parses");
    let device_class = Guid::from_u128(0x5df2b673_6d41_4774_b3e8_d52e8ee9ff99);
    let user = domain.with_rid(1105);
    let token = Token::authenticated(user, [domain.with_rid(513)]);
    let objects = ObjectTypeList::class(Guid::from_u128(0x19195a5b_6da0_11d0_afd3_00c04fd930c9))
        .with_property_set(
            Guid::from_u128(0x59ba2f42_79a2_11d0_9020_00c04fc2d3cf),
            &[Guid::from_u128(1), Guid::from_u128(2), Guid::from_u128(3)],
        )
        .with_attribute(Guid::from_u128(0xbf967a0e_0de6_11d0_a285_00aa003049e2));

    c.bench_function("sd_decode_domain_head", |b| {
        b.iter(|| SecurityDescriptor::from_bytes(black_box(&head_bytes)))
    });
    c.bench_function("sd_encode_domain_head", |b| {
        b.iter(|| black_box(&head).to_bytes())
    });
    c.bench_function("sddl_parse_domain_head", |b| {
        b.iter(|| SecurityDescriptor::from_sddl(black_box(head_sddl), &context))
    });
    c.bench_function("access_check_read_property_domain_head", |b| {
        b.iter(|| {
            access_check(
                black_box(&head),
                &token,
                AccessMask::READ_PROPERTY,
                &objects,
                Some(&user),
            )
        })
    });
    c.bench_function("inherit_device_under_domain_head", |b| {
        b.iter(|| {
            inherit(
                black_box(&device_default),
                Some(&head),
                &device_class,
                &user,
                &user,
            )
        })
    });
}

criterion_group!(security, benches);
criterion_main!(security);
