package com.acme.user

import org.springframework.jdbc.core.JdbcTemplate
import org.springframework.stereotype.Repository

data class User(val id: Long, val firstName: String, val lastName: String, val nickname: String?)

@Repository
class UserRepository(private val jdbc: JdbcTemplate) {

    fun findById(id: Long): User? =
        jdbc.query("select id, first_name, last_name, nickname from users where id = ?", { rs, _ ->
            User(rs.getLong(1), rs.getString(2), rs.getString(3), rs.getString(4))
        }, id).firstOrNull()
}
